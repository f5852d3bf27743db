//! Passwords: argon2id with OWASP's parameters (19 MiB, 2 iterations, 1 lane), computed on a
//! bounded pool of blocking threads so that a flood of sign-ins queues here instead of taking
//! every processor from the map; and the rules a new password must meet.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::problem::Problem;

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 12;

/// Passwords that attackers try first (a short list of the most common ones that are long
/// enough to pass the length rule; the length rule keeps out the rest of the usual lists).
const COMMON: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "qwertzuiopü1",
    "qwertyuiop12",
    "passwort1234",
    "password1234",
    "passwort12345",
    "password12345",
    "hallohallo12",
    "sommer2024!!",
    "winter2024!!",
    "koblenz12345",
    "koblenz2024!",
    "stadtkarte12",
    "stadtkarte123",
    "willkommen12",
    "willkommen123",
    "aaaaaaaaaaaa",
    "iloveyou1234",
    "abc123abc123",
    "letmein12345",
    "administrator",
    "administrator1",
    "qwertyqwerty",
];

/// The argon2id hasher with OWASP's recommended parameters (m = 19 MiB, t = 2, p = 1).
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Why a new password is refused.
#[must_use]
pub fn refusal(password: &str, email: &str) -> Option<&'static str> {
    let lower = password.to_lowercase();
    if password.chars().count() < MIN_LENGTH {
        Some(
            "Das Passwort muss mindestens 12 Zeichen lang sein. / The password must be at least 12 characters long.",
        )
    } else if lower == email.to_lowercase()
        || lower == email.split('@').next().unwrap_or_default().to_lowercase()
    {
        Some(
            "Das Passwort darf nicht die E-Mail-Adresse sein. / The password must not be the e-mail address.",
        )
    } else if COMMON.contains(&lower.as_str())
        || lower
            .chars()
            .next()
            .is_some_and(|first| lower.chars().all(|c| c == first))
    {
        Some("Dieses Passwort ist zu leicht zu erraten. / This password is too easy to guess.")
    } else {
        None
    }
}

/// Computes and checks password hashes on a few threads of their own that run at the lowest
/// scheduling priority (`nice` 19): when the processors are busy with the map, a sign-in waits
/// instead of taking their time; when they are idle, it takes the usual ~50 ms.
#[derive(Debug, Clone)]
pub struct Hasher {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

type Job = Box<dyn FnOnce() + Send>;

/// Lowers the calling thread's scheduling priority to the lowest (Linux: per thread).
#[allow(unsafe_code)]
fn lowest_priority() {
    // SAFETY: gettid and setpriority only read their arguments; a failure leaves the priority
    // as it was, which is harmless.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid.cast_unsigned(), 19);
    }
}

/// A hash that verifies nothing, used when the account does not exist, so that an unknown
/// e-mail address costs the same time as a wrong password.
const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3RhZHRrYXJ0ZWR1bW15$6fhSHd4TbiHbUp1Nd9bBbQ+2yCFeyM9bP3L3jlQvW9k";

impl Hasher {
    /// A hasher with `threads` threads of lowest priority (at least one).
    #[must_use]
    pub fn new(threads: usize) -> Self {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(1024);
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("passwort-{n}"))
                .spawn(move || {
                    lowest_priority();
                    loop {
                        let job = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password thread");
            }
        }
        Self { jobs }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Problem> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .try_send(Box::new(move || {
                let _ = done.send(work());
            }))
            .map_err(|_| {
                Problem::unavailable("Too many sign-ins at once; please try again shortly.")
                    .retry_after(2)
            })?;
        result.await.map_err(Problem::internal)
    }

    /// The PHC string of `password`.
    pub async fn hash(&self, password: &str) -> Result<String, Problem> {
        let password = password.to_owned();
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(Problem::internal)
        })
        .await?
    }

    /// Whether `password` matches `hash`; with `None` (no such account) the same work is done
    /// and the answer is no.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, Problem> {
        let (password, known) = (password.to_owned(), hash.is_some());
        let hash = hash.unwrap_or(DUMMY).to_owned();
        self.run(move || {
            let ok = PasswordHash::new(&hash).is_ok_and(|parsed| {
                argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            });
            ok && known
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let h = Hasher::new(1);
        let hash = h.hash("ein langes Passwort").await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(h.verify("ein langes Passwort", Some(&hash)).await.unwrap());
        assert!(!h.verify("ein anderes Passwort", Some(&hash)).await.unwrap());
        assert!(!h.verify("ein langes Passwort", None).await.unwrap());
        assert!(
            PasswordHash::new(DUMMY).is_ok(),
            "the dummy hash parses, so it costs the same"
        );
    }

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        assert!(refusal("kurz", "a@b.de").unwrap().contains("12"));
        assert!(
            refusal("anna.meier@koblenz.de", "Anna.Meier@koblenz.de")
                .unwrap()
                .contains("E-Mail")
        );
        assert!(refusal("passwort1234", "a@b.de").is_some());
        assert!(refusal("xxxxxxxxxxxxxx", "a@b.de").is_some());
        assert!(refusal("Rhein und Mosel 1958", "a@b.de").is_none());
    }
}
