//! Logging with `tracing` (human-readable or JSON lines), traces exported over OTLP when a
//! collector is configured, and an optional per-request count of SQL statements for the
//! N+1 tests and for diagnosing slow queries.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, filter};

tokio::task_local! {
    /// The statement counter of the request being executed, when counting is on.
    pub static SQL_STATEMENTS: Arc<AtomicU64>;
}

/// Counts sqlx's per-statement events into the current request's counter.
struct SqlCounter;

impl<S: Subscriber> Layer<S> for SqlCounter {
    fn on_event(&self, _event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let _ = SQL_STATEMENTS.try_with(|n| n.fetch_add(1, Ordering::Relaxed));
    }
}

/// Where to send traces.
pub struct Otlp<'a> {
    /// The collector's base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`); spans go to `/v1/traces`.
    pub endpoint: &'a str,
    pub service_name: &'a str,
}

/// Keeps the trace exporter; dropping it (at shutdown) sends the spans still buffered.
#[must_use = "dropping it stops the trace export"]
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether traces are exported (then the schema adds a span per resolved field).
    pub fn exports_traces(&self) -> bool {
        self.tracer.is_some()
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.tracer.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("maestro: the last traces could not be exported: {e}");
        }
    }
}

/// The OTLP/HTTP exporter, batching spans on its own thread.
fn tracer_provider(otlp: &Otlp<'_>) -> anyhow::Result<SdkTracerProvider> {
    let endpoint = format!("{}/v1/traces", otlp.endpoint.trim_end_matches('/'));
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(&endpoint)
        .build()
        .with_context(|| {
            format!("OTEL_EXPORTER_OTLP_ENDPOINT ({endpoint}) cannot receive traces")
        })?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(otlp.service_name.to_string())
                .build(),
        )
        .build())
}

/// Installs the global subscriber once; later calls (tests) are no-ops. `filter` defaults
/// to `RUST_LOG`, else `info`. With `count_sql`, every statement sqlx runs is counted.
/// With `otlp`, spans (requests, GraphQL operations and fields, database calls with their
/// statements as events) are exported to the collector whatever the log filter says.
pub fn init(
    json: bool,
    count_sql: bool,
    filter: Option<&str>,
    otlp: Option<Otlp<'_>>,
) -> anyhow::Result<Telemetry> {
    let env_filter = match filter {
        Some(f) => EnvFilter::new(f),
        None => {
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"))
        }
    };
    // Colours only on a terminal: a log file or a collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let fmt = if json {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    let counter = count_sql.then(|| {
        SqlCounter
            .with_filter(filter::Targets::new().with_target("sqlx::query", tracing::Level::TRACE))
    });
    let tracer = otlp.as_ref().map(tracer_provider).transpose()?;
    let traces = tracer.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("maestro"))
            .with_filter(
                filter::Targets::new()
                    .with_default(tracing::Level::INFO)
                    .with_target("sqlx::query", tracing::Level::DEBUG),
            )
    });
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(env_filter))
        .with(counter)
        .with(traces)
        .try_init();
    Ok(Telemetry { tracer })
}
