//! Logging: `--log FILE` (default stderr) in `--log-format text` or `json`. The json lines carry
//! runc's (logrus's) keys `level`, `msg`, `time`, because containerd and Podman read the last
//! error from that file to show it to their users.

use std::fmt;
use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::cli::{Cli, LogFormat};

/// Errors setting up the log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The log file cannot be opened.
    #[error("--log {path}: {source}")]
    Open {
        /// The path.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// One event as runc writes it: `{"level":"error","msg":"...","time":"RFC 3339"}`, or
/// `time level msg` as text.
struct RuncFormat(LogFormat);

/// logrus's level names.
fn level_name(l: &Level) -> &'static str {
    match *l {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// Collects an event's message and fields into one string.
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let s = format!("{value:?}");
            self.0.insert_str(0, &s);
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            self.0.push_str(&format!(" {}={value}", field.name()));
        }
    }
}

impl<S, N> FormatEvent<S, N> for RuncFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut m = Message(String::new());
        event.record(&mut m);
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let level = level_name(event.metadata().level());
        match self.0 {
            LogFormat::Json => {
                let line = serde_json::json!({"level": level, "msg": m.0, "time": time});
                writeln!(w, "{line}")
            }
            LogFormat::Text => writeln!(w, "{time} {level}: {}", m.0),
        }
    }
}

/// Install the subscriber for the whole process.
///
/// # Errors
/// [`LogError::Open`] when --log cannot be opened for appending.
pub fn init(cli: &Cli) -> Result<(), LogError> {
    let max = if cli.debug { Level::DEBUG } else { Level::WARN };
    let builder = tracing_subscriber::fmt()
        .with_max_level(max)
        .event_format(RuncFormat(cli.log_format));
    match &cli.log {
        Some(path) => {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| LogError::Open {
                    path: path.clone(),
                    source,
                })?;
            builder.with_writer(Mutex::new(f)).init();
        }
        None => builder.with_writer(std::io::stderr).init(),
    }
    Ok(())
}
