//! A schema-driven check of a running HTTP service against its own OpenAPI document:
//! requests the document allows, generated from its parameter and body schemas, must
//! get an answer the document describes (a listed status, a listed media type, a body
//! its schema accepts), and never a 500 (documented or not, a 500 is a bug).
//!
//! Generation is seeded, so a failure is replayed with the seed it prints.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

/// What the check needs besides the service's document.
pub struct Conformance {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The service's `/openapi.json`.
    pub document: Value,
    /// The `Authorization` header for each security scheme name.
    pub credentials: HashMap<String, String>,
    /// Values for path parameters by name (the caller's tenant, known ids); others
    /// are generated like any string.
    pub path_values: HashMap<String, Vec<String>>,
    /// Strings generated values are drawn from, beside generic ones (known values,
    /// filters).
    pub strings: Vec<String>,
    /// Requests per operation.
    pub rounds: usize,
    /// Seed of the generation.
    pub seed: u64,
}

/// What a check found.
#[derive(Debug, Default)]
pub struct Report {
    /// Answers the document does not describe.
    pub failures: Vec<Failure>,
    /// How many answers of each status each operation gave, to show what was reached.
    pub statuses: std::collections::BTreeMap<String, std::collections::BTreeMap<u16, usize>>,
}

/// A request whose answer the document does not describe.
#[derive(Debug)]
pub struct Failure {
    /// `POST /path`.
    pub request: String,
    /// The body sent, if any.
    pub body: Option<Value>,
    /// What was wrong with the answer.
    pub problem: String,
}

/// Strings every generated string may be: empty, odd, long, a filter, a path.
const GENERIC: &[&str] =
    &["", "a", "created", "x eq y", "value sw \"a\"", "日本語", "' or 1=1 --", "../../etc", "%00", "null"];

impl Conformance {
    /// Sends `rounds` generated requests to every operation.
    pub async fn check(&self) -> Report {
        let http = reqwest::Client::new();
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut report = Report::default();
        let paths = self.document["paths"].as_object().cloned().unwrap_or_default();
        for (path, item) in &paths {
            for (method, operation) in item.as_object().into_iter().flatten() {
                let statuses =
                    report.statuses.entry(format!("{} {path}", method.to_uppercase())).or_default();
                for _ in 0..self.rounds {
                    let request = self.request(&mut rng, path, method, operation);
                    let (status, failure) = self.send(&http, request, operation).await;
                    *statuses.entry(status).or_default() += 1;
                    report.failures.extend(failure);
                }
            }
        }
        report
    }

    fn request(&self, rng: &mut StdRng, path: &str, method: &str, operation: &Value) -> Generated {
        let mut url = path.to_owned();
        let mut query = Vec::new();
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let name = parameter["name"].as_str().unwrap_or_default();
            if parameter["in"] == "path" {
                let value = match self.path_values.get(name) {
                    Some(values) if rng.random_bool(0.9) => values[rng.random_range(0..values.len())].clone(),
                    _ => self.string(rng, &json!({})),
                };
                // An empty or dot-only segment would name another path, not this one.
                let value = if value.chars().all(|c| c == '.') { "x".to_owned() } else { value };
                url = url.replace(&format!("{{{name}}}"), &encode(&value));
            } else if parameter["in"] == "query" && (parameter["required"] == true || rng.random_bool(0.5)) {
                let value = self.instance(rng, &parameter["schema"], 0);
                let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                query.push(format!("{}={}", encode(name), encode(&text)));
            }
        }
        if !query.is_empty() {
            url = format!("{url}?{}", query.join("&"));
        }
        let body = operation.get("requestBody").and_then(|body| {
            let content = body["content"].as_object()?;
            if body["required"] != true && rng.random_bool(0.1) {
                return None;
            }
            let (media, schema) = content.iter().nth(rng.random_range(0..content.len()))?;
            Some((media.clone(), self.instance(rng, &schema["schema"], 0)))
        });
        let scheme = operation["security"][0].as_object().and_then(|schemes| schemes.keys().next().cloned());
        Generated { method: method.to_uppercase(), url, body, scheme }
    }

    /// The answer's status (0 when none came) and what is wrong with it.
    async fn send(
        &self,
        http: &reqwest::Client,
        request: Generated,
        operation: &Value,
    ) -> (u16, Option<Failure>) {
        let method =
            reqwest::Method::from_bytes(request.method.as_bytes()).expect("a method of the document");
        let mut builder = http.request(method, format!("{}{}", self.base, request.url));
        if let Some(authorization) = request.scheme.as_ref().and_then(|scheme| self.credentials.get(scheme)) {
            builder = builder.header("authorization", authorization);
        }
        if let Some((media, body)) = &request.body {
            builder = builder.header("content-type", media.as_str()).body(body.to_string());
        }
        let fail = |problem: String| Failure {
            request: format!("{} {}", request.method, request.url),
            body: request.body.as_ref().map(|(_, body)| body.clone()),
            problem,
        };
        let response = match builder.send().await {
            Ok(response) => response,
            Err(error) => return (0, Some(fail(format!("no answer: {error}")))),
        };
        let status = response.status().as_u16();
        let media =
            response.headers().get("content-type").and_then(|value| value.to_str().ok()).map(media_type);
        let bytes = response.bytes().await.unwrap_or_default();
        let problem = self.judge(operation, status, media.as_deref(), &bytes);
        let answer: String = String::from_utf8_lossy(&bytes).chars().take(300).collect();
        (status, problem.map(|problem| fail(format!("{status}: {problem}: {answer}"))))
    }

    /// What is wrong with an answer, if anything.
    fn judge(&self, operation: &Value, status: u16, media: Option<&str>, bytes: &[u8]) -> Option<String> {
        if status >= 500 && status != 503 {
            return Some("a server error".into());
        }
        let described = &operation["responses"][status.to_string()];
        let described = if described.is_null() { &operation["responses"]["default"] } else { described };
        if described.is_null() {
            return Some("a status the document does not list".into());
        }
        let content = described["content"].as_object()?;
        let Some(media) = media else { return Some("no content type".into()) };
        let Some(listed) = content.get(media) else {
            return Some(format!("content type {media} not among {:?}", content.keys().collect::<Vec<_>>()));
        };
        if media != "application/json" && !media.ends_with("+json") {
            return None;
        }
        let Ok(body) = serde_json::from_slice::<Value>(bytes) else {
            return Some("a body that is not JSON".into());
        };
        let mut schema = listed["schema"].clone();
        if let Value::Object(fields) = &mut schema {
            fields.insert("components".into(), self.document["components"].clone());
        }
        jsonschema::validate(&schema, &body)
            .err()
            .map(|error| format!("body does not match its schema: {error}"))
    }

    /// A value the schema accepts.
    fn instance(&self, rng: &mut StdRng, schema: &Value, depth: usize) -> Value {
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.rsplit('/').next().unwrap_or_default();
            return self.instance(rng, &self.document["components"]["schemas"][name], depth + 1);
        }
        for choice in ["oneOf", "anyOf"] {
            if let Some(options) = schema[choice].as_array().filter(|options| !options.is_empty()) {
                let pick = rng.random_range(0..options.len());
                return self.instance(rng, &options[pick], depth + 1);
            }
        }
        if let Some(values) = schema["enum"].as_array().filter(|values| !values.is_empty()) {
            return values[rng.random_range(0..values.len())].clone();
        }
        let kind = match &schema["type"] {
            Value::String(kind) => kind.clone(),
            Value::Array(kinds) => {
                let non_null: Vec<&Value> = kinds.iter().filter(|kind| *kind != "null").collect();
                match non_null.first() {
                    Some(kind) if rng.random_bool(0.85) => kind.as_str().unwrap_or("string").to_owned(),
                    _ => "null".to_owned(),
                }
            }
            _ => "string".to_owned(),
        };
        match kind.as_str() {
            "object" => self.object(rng, schema, depth),
            "array" if depth < 6 => {
                let (low, high) =
                    (schema["minItems"].as_u64().unwrap_or(0), schema["maxItems"].as_u64().unwrap_or(3));
                let items = rng.random_range(low..=high.max(low));
                Value::Array((0..items).map(|_| self.instance(rng, &schema["items"], depth + 1)).collect())
            }
            "array" => json!([]),
            "integer" => json!(integer(rng, schema)),
            "number" => json!(rng.random_range(-1e6..1e6)),
            "boolean" => json!(rng.random_bool(0.5)),
            "null" => Value::Null,
            _ => json!(self.string(rng, schema)),
        }
    }

    fn object(&self, rng: &mut StdRng, schema: &Value, depth: usize) -> Value {
        let required: Vec<&str> =
            schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let mut object = Map::new();
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            if required.contains(&name.as_str()) || rng.random_bool(0.6) {
                object.insert(name.clone(), self.instance(rng, property, depth + 1));
            }
        }
        if let Some(values) = schema["additionalProperties"].as_object() {
            for _ in 0..rng.random_range(0..3) {
                let key = self.string(rng, &json!({}));
                object.insert(key, self.instance(rng, &Value::Object(values.clone()), depth + 1));
            }
        }
        Value::Object(object)
    }

    fn string(&self, rng: &mut StdRng, schema: &Value) -> String {
        if schema["format"] == "date-time" {
            return "2024-05-01T12:00:00.000Z".into();
        }
        match rng.random_range(0..3) {
            0 if !self.strings.is_empty() => self.strings[rng.random_range(0..self.strings.len())].clone(),
            1 => (0..rng.random_range(1..40)).map(|_| rng.random_range(b'a'..=b'z') as char).collect(),
            _ => GENERIC[rng.random_range(0..GENERIC.len())].to_owned(),
        }
    }
}

/// A request about to be sent.
struct Generated {
    method: String,
    url: String,
    body: Option<(String, Value)>,
    scheme: Option<String>,
}

/// An integer within the schema's bounds, often at their edges.
fn integer(rng: &mut StdRng, schema: &Value) -> i64 {
    let low = schema["minimum"].as_i64().unwrap_or(i64::MIN);
    let high = schema["maximum"].as_i64().unwrap_or(i64::MAX);
    let candidates = [low, high, 0, 1, -1, 2, 10, 100, 101, 1_000_000, rng.random()];
    let pick = candidates[rng.random_range(0..candidates.len())];
    pick.clamp(low, high)
}

/// The media type of a `Content-Type` value, without parameters.
fn media_type(value: &str) -> String {
    value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// Percent-encodes everything but unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
