//! The flags every consumer of the trail shares (Kafka, topics, group, ops address,
//! topic creation), validated once into a [`StageConfig`], so a service's own config
//! holds only what is its own.
//!
//! The defaults that differ per service (its topics, group and ops port) are given by
//! the service's command with [`StageDefaults::apply`], so `--help` shows them and
//! every way of starting a service (`main`, `auditctl up`, tests) gets the same ones.

use std::net::SocketAddr;

use clap::{ArgAction, Args};

use super::{TopicKinds, Topics};
use crate::RuntimeError;
use crate::config::{KafkaArgs, KafkaConfig};

/// Flags of every consumer: a pipeline stage or a sink.
#[derive(Debug, Clone, Args)]
pub struct StageArgs {
    /// Kafka settings.
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Topic this service reads.
    #[arg(long, env = "AUDIT_INPUT_TOPIC")]
    pub input_topic: String,
    /// Dead-letter topic: what this service cannot handle, with the reason.
    #[arg(long, env = "AUDIT_DLQ_TOPIC", default_value = "audit.dlq")]
    pub dlq_topic: String,
    /// Consumer group shared by every instance of this service.
    #[arg(long, env = "AUDIT_GROUP_ID")]
    pub group_id: String,
    /// Address of the `/metrics` and `/healthz` server.
    #[arg(long, env = "AUDIT_OPS_LISTEN")]
    pub ops_listen: SocketAddr,
    /// Create missing topics at start (needs the right to create topics).
    #[arg(long, env = "AUDIT_CREATE_TOPICS", default_value_t = true, action = ArgAction::Set)]
    pub create_topics: bool,
}

/// The flag of a stage that forwards records to a topic.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Topic this stage writes its records to.
    #[arg(long, env = "AUDIT_OUTPUT_TOPIC")]
    pub output_topic: String,
}

/// A service's defaults for the shared flags.
#[derive(Debug, Clone, Copy)]
pub struct StageDefaults {
    /// `--input-topic`.
    pub input_topic: &'static str,
    /// `--output-topic`, for stages that forward.
    pub output_topic: Option<&'static str>,
    /// `--group-id`.
    pub group_id: &'static str,
    /// `--ops-listen`.
    pub ops_listen: &'static str,
}

impl StageDefaults {
    /// Sets these defaults on a command's arguments:
    /// `#[command(mut_args(DEFAULTS.apply()))]` on the service's `Parser`.
    pub fn apply(self) -> impl FnMut(clap::Arg) -> clap::Arg {
        move |arg| {
            let default = match arg.get_id().as_str() {
                "input_topic" => Some(self.input_topic),
                "output_topic" => self.output_topic,
                "group_id" => Some(self.group_id),
                "ops_listen" => Some(self.ops_listen),
                _ => None,
            };
            match default {
                // Derive marks a flag without a default required; it has one now.
                Some(value) => arg.default_value(value).required(false),
                None => arg,
            }
        }
    }
}

/// Validated shared settings.
#[derive(Debug, Clone)]
pub struct StageConfig {
    /// Kafka settings.
    pub kafka: KafkaConfig,
    /// Topics read and written.
    pub topics: Topics,
    /// Consumer group.
    pub group_id: String,
    /// Ops server address.
    pub ops_listen: SocketAddr,
    /// Create missing topics at start.
    pub create_topics: bool,
}

impl StageArgs {
    /// Checks every value once; `output` is the output flag of a forwarding stage,
    /// `kinds` what its topics hold.
    pub fn validate(
        &self,
        output: Option<&OutputArgs>,
        kinds: TopicKinds,
    ) -> Result<StageConfig, RuntimeError> {
        let output = output.map(|output| output.output_topic.clone());
        let named = [
            ("input-topic", Some(&self.input_topic)),
            ("output-topic", output.as_ref()),
            ("dlq-topic", Some(&self.dlq_topic)),
        ];
        let mut seen: Vec<&String> = Vec::new();
        for (name, topic) in named {
            let Some(topic) = topic else { continue };
            if topic.is_empty() || seen.contains(&topic) {
                let reason = "topics must be non-empty and distinct".into();
                return Err(RuntimeError::InvalidSetting { name, reason });
            }
            seen.push(topic);
        }
        if self.group_id.is_empty() {
            return Err(RuntimeError::InvalidSetting {
                name: "group-id",
                reason: "must be non-empty".into(),
            });
        }
        Ok(StageConfig {
            kafka: self.kafka.validate()?,
            topics: Topics { input: self.input_topic.clone(), output, dlq: self.dlq_topic.clone(), kinds },
            group_id: self.group_id.clone(),
            ops_listen: self.ops_listen,
            create_topics: self.create_topics,
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::topics::TopicKind;

    const DEFAULTS: StageDefaults = StageDefaults {
        input_topic: "audit.in",
        output_topic: Some("audit.out"),
        group_id: "audit-test",
        ops_listen: "127.0.0.1:9199",
    };

    const KINDS: TopicKinds = TopicKinds { input: TopicKind::PersonalData, output: TopicKind::Tokenized };

    #[derive(Parser)]
    #[command(mut_args(DEFAULTS.apply()))]
    struct Cli {
        #[command(flatten)]
        stage: StageArgs,
        #[command(flatten)]
        output: OutputArgs,
    }

    fn parse(args: &[&str]) -> Result<StageConfig, RuntimeError> {
        let cli =
            Cli::try_parse_from(std::iter::once("test").chain(args.iter().copied())).expect("flags parse");
        cli.stage.validate(Some(&cli.output), KINDS)
    }

    #[test]
    fn a_service_defaults_show_in_help_and_apply() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.topics.input, "audit.in");
        assert_eq!(config.topics.output.as_deref(), Some("audit.out"));
        assert_eq!(config.topics.dlq, "audit.dlq");
        assert_eq!(config.group_id, "audit-test");
        assert_eq!(config.ops_listen.port(), 9199);
        let help = <Cli as clap::CommandFactory>::command().render_long_help().to_string();
        assert!(help.contains("[default: audit.in]"), "{help}");
    }

    #[test]
    fn topics_must_be_distinct_and_the_error_names_the_flag() {
        for (args, flag) in [
            (&["--output-topic", "audit.in"][..], "output-topic"),
            (&["--dlq-topic", "audit.out"][..], "dlq-topic"),
            (&["--input-topic", ""][..], "input-topic"),
            (&["--group-id", ""][..], "group-id"),
        ] {
            match parse(args) {
                Err(RuntimeError::InvalidSetting { name, .. }) => assert_eq!(name, flag, "{args:?}"),
                other => panic!("{args:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_sink_has_no_output_topic() {
        let cli = Cli::try_parse_from(["test"]).unwrap();
        assert_eq!(cli.stage.validate(None, KINDS).unwrap().topics.output, None);
    }
}
