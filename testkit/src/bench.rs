//! Throughput harness shared by the stage benchmarks: load a topic, time a loop until
//! its output holds every record, and the stage runtime passing records through as
//! the baseline a stage is compared with.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use audit_runtime::config::KafkaConfig;
use audit_runtime::kafka::producer;
use audit_runtime::metrics::{StageMetrics, service_registry};
use audit_runtime::stage::TopicKinds;
use audit_runtime::stage::{
    Delivery, InputMessage, Outcome, OutputRecord, Partitioning, Stage, StageParams, Topics, TransientError,
    run_service,
};
use audit_runtime::topics::{Topic, ensure};
use audit_service::ops::Health;
use rdkafka::producer::{DeliveryFuture, FutureRecord};
use tokio_util::sync::CancellationToken;

/// Partitions of every benchmark topic.
pub const PARTITIONS: i32 = 4;

/// An embedded broker with the durable storage `auditctl up` uses, in a temporary
/// directory (the same for every loop compared), and the Kafka settings of a benchmark.
pub async fn broker() -> (audit_broker::EmbeddedBroker, KafkaConfig, tempfile::TempDir) {
    let (broker, storage) = crate::kafka::broker().await;
    let mut kafka = KafkaConfig::for_bootstrap(&broker.bootstrap()).unwrap();
    kafka.partitions = PARTITIONS;
    (broker, kafka, storage)
}

/// Writes `messages` to `topic` with back-pressure; panics if any is not acknowledged.
pub async fn load(kafka: &KafkaConfig, topic: &str, messages: impl Iterator<Item = (Vec<u8>, Vec<u8>)>) {
    ensure(kafka, &[Topic::named(topic)]).await.unwrap();
    let producer = producer(kafka).unwrap();
    let (mut deliveries, mut failed) = (Vec::new(), 0);
    for (key, payload) in messages {
        let mut record = FutureRecord::<[u8], [u8]>::to(topic).payload(&payload).key(&key);
        loop {
            match producer.send_result(record) {
                Ok(delivery) => break deliveries.push(delivery),
                Err((_queue_full, returned)) => {
                    record = returned;
                    failed += count_failed(deliveries.drain(..)).await;
                }
            }
        }
    }
    failed += count_failed(deliveries.drain(..)).await;
    assert_eq!(failed, 0, "every input message is acknowledged");
}

async fn count_failed(deliveries: impl Iterator<Item = DeliveryFuture>) -> usize {
    let mut failed = 0;
    for delivery in deliveries {
        if !matches!(delivery.await, Ok(Ok(_))) {
            failed += 1;
        }
    }
    failed
}

/// A loop's steady state, from its first output on.
#[derive(Debug, Clone, Copy)]
pub struct Steady {
    /// Records per second.
    pub per_second: f64,
    /// The whole process's CPU time (user + system) per record.
    pub cpu_per_record: Duration,
}

/// Runs `work` until it reports `records` acknowledged on its output topic, then
/// cancels it and waits for it to stop; returns records per second in steady state.
/// See [`steady`].
pub async fn timed<W, F>(kafka: &KafkaConfig, output: &str, records: usize, work: W) -> f64
where
    W: FnOnce(Arc<AtomicU64>, CancellationToken) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    steady(kafka, output, records, work).await.per_second
}

/// Runs `work` until it reports `records` acknowledged on its output topic, then
/// cancels it and waits for it to stop; returns its rate and CPU per record in steady
/// state. The clock starts at the first output seen, and the records out by then are
/// not counted: joining the consumer group takes about a second on the embedded
/// broker, the same for every loop, and counting it would make fast loops look slower
/// than slow ones by a fixed cost.
/// Stopping gracefully matters: a Kafka client dropped on an async worker blocks it,
/// and the embedded broker needs the workers.
pub async fn steady<W, F>(kafka: &KafkaConfig, output: &str, records: usize, work: W) -> Steady
where
    W: FnOnce(Arc<AtomicU64>, CancellationToken) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    ensure(kafka, &[Topic::named(output), Topic::personal("audit.dlq")]).await.unwrap();
    let acknowledged = Arc::new(AtomicU64::new(0));
    let shutdown = CancellationToken::new();
    let started = (Instant::now(), process_cpu());
    let task = tokio::spawn(work(acknowledged.clone(), shutdown.clone()));
    let mut first_output = None;
    loop {
        let done = acknowledged.load(Ordering::Acquire);
        if done >= records as u64 {
            break;
        }
        if done > 0 && first_output.is_none() {
            first_output = Some((Instant::now(), process_cpu(), done));
        }
        assert!(started.0.elapsed() < Duration::from_secs(600), "{output} did not fill within 10 minutes");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (since, cpu_since, counted) = match first_output {
        Some((at, cpu, done)) => (at, cpu, records as u64 - done),
        None => (started.0, started.1, records as u64),
    };
    let elapsed = since.elapsed().as_secs_f64();
    let cpu = process_cpu().saturating_sub(cpu_since);
    shutdown.cancel();
    task.await.unwrap();
    Steady { per_second: counted as f64 / elapsed, cpu_per_record: cpu / counted.max(1) as u32 }
}

/// Where the pass-through reads and writes, and how it partitions its output: the
/// baseline must write like the stage it is compared with.
#[derive(Debug, Clone, Copy)]
pub struct Route<'a> {
    /// Input topic.
    pub input: &'a str,
    /// Output topic.
    pub output: &'a str,
    /// `ByKey` for most stages, `SameAsInput` for the co-partitioned signer.
    pub partitioning: Partitioning,
    /// The delivery mode of the stage the pass-through stands in for.
    pub delivery: Delivery,
}

/// Copies `route.input` to `route.output` through the stage runtime, reporting progress.
///
/// It runs as a service does, behind its ops server, and its progress is read from its
/// own `/metrics` like that of the stage it is compared with, so both loops carry the
/// same observation cost.
pub async fn passthrough(
    kafka: KafkaConfig,
    route: Route<'_>,
    done: Arc<AtomicU64>,
    shutdown: CancellationToken,
) {
    let registry = service_registry("passthrough").unwrap();
    let metrics = Arc::new(StageMetrics::register("passthrough", &registry).unwrap());
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    follow_metric(
        format!("http://{}/metrics", ops.local_addr().unwrap()),
        "passthrough_records_produced_total ",
        done,
    );
    let params = StageParams {
        service: "passthrough",
        group_id: format!("bench-passthrough-{}", route.output),
        topics: Topics {
            input: route.input.into(),
            output: Some(route.output.into()),
            dlq: "audit.dlq".into(),
            kinds: TopicKinds {
                input: Topic::named(route.input).kind,
                output: Topic::named(route.output).kind,
            },
        },
        kafka,
        metrics,
        health: Health::default(),
        create_topics: true,
        partitioning: route.partitioning,
    };
    run_service(PassThrough(route.delivery), params, (ops, registry), shutdown).await.unwrap();
}

struct PassThrough(Delivery);

impl Stage for PassThrough {
    fn delivery(&self) -> Delivery {
        self.0
    }

    async fn process(&mut self, batch: &[InputMessage]) -> Result<Vec<Outcome>, TransientError> {
        let forward = |message: &InputMessage| {
            let key = message.key.clone().unwrap_or_default();
            let payload = message.payload.clone().unwrap_or_default();
            Outcome::Forward(vec![OutputRecord { key, payload }])
        };
        Ok(batch.iter().map(forward).collect())
    }
}

/// How often a loop's `/metrics` is read. Each read gathers every metric, process
/// statistics from `/proc` included: read every 5 ms, the reads took several percent
/// of a CPU-bound loop's time. Either end of a timed window is seen up to one poll late,
/// so over the seconds a loop runs this costs under 1% of precision.
const METRICS_POLL: Duration = Duration::from_millis(20);

/// Polls a service's `/metrics` for `metric` and reports it to `done`.
pub fn follow_metric(metrics_url: String, metric: &'static str, done: Arc<AtomicU64>) {
    tokio::spawn(async move {
        // One client for every poll: `reqwest::get` builds a client per call, which
        // loads the system's root certificates each time, and that CPU would be
        // charged to the loop being measured.
        let client = reqwest::Client::new();
        while Arc::strong_count(&done) > 1 {
            if let Some(value) = metric_value(&client, &metrics_url, metric).await {
                done.store(value, Ordering::Release);
            }
            tokio::time::sleep(METRICS_POLL).await;
        }
    });
}

async fn metric_value(client: &reqwest::Client, metrics_url: &str, metric: &str) -> Option<u64> {
    let body = client.get(metrics_url).send().await.ok()?.text().await.ok()?;
    body.lines().find_map(|line| line.strip_prefix(metric)?.trim().parse().ok())
}

/// One printed line of figures.
pub fn report(name: &str, records_per_second: f64) {
    println!("{name:<36} {records_per_second:>10.0} records/s");
}

/// Runs `work`, returning its result and the process CPU time it took.
pub async fn with_cpu(work: impl Future<Output = f64>) -> (f64, Duration) {
    let before = process_cpu();
    let result = work.await;
    (result, process_cpu().saturating_sub(before))
}

/// User + system CPU time of the whole process, every thread, ended ones included.
pub fn process_cpu() -> Duration {
    process_cpu_of("self")
}

/// [`process_cpu`] of another process (`pid` as procfs names it).
pub fn process_cpu_of(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("procfs is mounted");
    // After the command name (which may hold spaces): state is the 1st field, utime the 12th.
    let (_, fields) = stat.rsplit_once(')').expect("stat names the command");
    let fields: Vec<&str> = fields.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // USER_HZ is 100 on Linux (x86_64, aarch64); libc's sysconf is not a dependency here.
    Duration::from_millis(ticks * 10)
}
