//! Progress of long imports: a bar with count, rate and remaining time on a terminal, plain
//! log lines (every two seconds) when stderr is not a terminal, e.g. in CI or a cron job.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// A shared counter that the worker increments and the reporter shows.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Shows a [`Counter`] until dropped or finished.
#[derive(Debug)]
pub struct Reporter {
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Reporter {
    /// Starts showing `counter` counting `unit` towards `total` (when known).
    #[must_use]
    pub fn start(label: &str, unit: &'static str, total: Option<u64>, counter: Counter) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let label = label.to_owned();
        let terminal = std::io::stderr().is_terminal();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let bar = terminal.then(|| {
                let bar = total.map_or_else(ProgressBar::new_spinner, ProgressBar::new);
                let template = if total.is_some() {
                    format!(
                        "{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit} · {{per_sec}} · noch {{eta}}"
                    )
                } else {
                    format!("{{msg}} {{spinner}} {{pos}} {unit} · {{per_sec}}")
                };
                if let Ok(style) = ProgressStyle::with_template(&template) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_message(label.clone());
                bar
            });
            let interval = if terminal {
                Duration::from_millis(100)
            } else {
                Duration::from_secs(2)
            };
            // Without a terminal the first line comes early, so a log shows at once that the
            // step started (steps shorter than that print nothing).
            let mut wait = if terminal {
                interval
            } else {
                Duration::from_millis(250)
            };
            loop {
                let done = tokio::select! {
                    () = tokio::time::sleep(wait) => false,
                    _ = stopped.changed() => true,
                };
                wait = interval;
                let n = counter.get();
                if let Some(bar) = &bar {
                    bar.set_position(n);
                } else if !done {
                    eprintln!("{}", plain_line(&label, unit, n, total, started.elapsed()));
                }
                if done {
                    if let Some(bar) = &bar {
                        bar.finish_and_clear();
                    }
                    return;
                }
            }
        });
        Self {
            stop,
            task: Some(task),
        }
    }

    /// Stops showing and waits until the last update is out.
    pub async fn finish(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
fn plain_line(label: &str, unit: &str, n: u64, total: Option<u64>, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = n as f64 / secs;
    match total {
        Some(total) if total > 0 => {
            let left = total.saturating_sub(n) as f64 / rate.max(1.0);
            format!(
                "{label}: {n}/{total} {unit} ({:.0} %), {rate:.0}/s, noch etwa {:.0} s",
                n as f64 * 100.0 / total as f64,
                left.ceil()
            )
        }
        _ => format!("{label}: {n} {unit}, {rate:.0}/s"),
    }
}

#[cfg(test)]
mod tests {
    use super::plain_line;
    use std::time::Duration;

    #[test]
    fn plain_lines_say_count_rate_and_time_left() {
        let line = plain_line("Import", "Objekte", 500, Some(1000), Duration::from_secs(1));
        assert_eq!(
            line,
            "Import: 500/1000 Objekte (50 %), 500/s, noch etwa 1 s"
        );
        let open = plain_line("Import", "Objekte", 10, None, Duration::from_secs(2));
        assert_eq!(open, "Import: 10 Objekte, 5/s");
    }
}
