//! Rate limits for what citizens send (reports, signatures): a fixed window per key, counted in
//! PostgreSQL so that every node counts the same. Keys name what is limited and a hash (a
//! client's daily hash, a hashed e-mail address), never an address.

use crate::db::{Conn, DbError};
use crate::problem::Problem;

/// Counts one more use of `key`; a 429 with `Retry-After` when more than `limit` uses fall into
/// the current window of `window_secs` seconds.
pub async fn hit(
    client: &impl Conn,
    key: &str,
    limit: u32,
    window_secs: u32,
) -> Result<(), Problem> {
    let window = i32::try_from(window_secs.max(1)).unwrap_or(3600);
    let row = client
        .query_one(
            "INSERT INTO auth.rate_limits (key, window_start, hits)
             VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) / $2::int) * $2::int), 1)
             ON CONFLICT (key) DO UPDATE SET
                 hits = CASE WHEN auth.rate_limits.window_start = EXCLUDED.window_start
                             THEN auth.rate_limits.hits + 1 ELSE 1 END,
                 window_start = EXCLUDED.window_start
             RETURNING hits, ceil(extract(epoch FROM auth.rate_limits.window_start + make_interval(secs => $2::int) - now()))::int",
            &[&key, &window],
        )
        .await
        .map_err(|e| Problem::from(DbError::query("counting a rate limit")(e)))?;
    let hits: i32 = row.get(0);
    if u32::try_from(hits).unwrap_or(u32::MAX) > limit {
        let wait = u32::try_from(row.get::<_, i32>(1).max(1)).unwrap_or(60);
        return Err(Problem::too_many_requests(
            "Zu viele Einsendungen in kurzer Zeit; bitte später noch einmal. / Too many submissions in a short time; please try again later.",
            wait,
        ));
    }
    Ok(())
}

/// Counts one more use of `key` like [`hit`], for keys that many requests share at once (one
/// API client, one large e-mail provider): the count is spread over eight rows (`key:0` …
/// `key:7`, one chosen at random), so concurrent requests rarely wait for the same row lock.
/// Meant to run in the caller's transaction, so that it costs no commit of its own and a
/// refused request's count is rolled back with it.
pub async fn hit_shared(
    client: &impl Conn,
    key: &str,
    limit: u32,
    window_secs: u32,
) -> Result<(), Problem> {
    use rand::Rng as _;
    let window = i32::try_from(window_secs.max(1)).unwrap_or(3600);
    let shard = i32::from(rand::rng().random_range(0_u8..8));
    let row = client
        .query_one(
            "WITH w AS (SELECT to_timestamp(floor(extract(epoch FROM now()) / $2::int) * $2::int) AS start),
                  hit AS (
                      INSERT INTO auth.rate_limits (key, window_start, hits)
                      SELECT $1 || ':' || $3::int, w.start, 1 FROM w
                      ON CONFLICT (key) DO UPDATE SET
                          hits = CASE WHEN auth.rate_limits.window_start = EXCLUDED.window_start
                                      THEN auth.rate_limits.hits + 1 ELSE 1 END,
                          window_start = EXCLUDED.window_start
                      RETURNING key)
             -- The statement sees the rows as they were before its own hit: + 1.
             SELECT (SELECT coalesce(sum(r.hits), 0) FROM auth.rate_limits r, w
                      WHERE r.key = ANY(ARRAY(SELECT $1 || ':' || g FROM generate_series(0, 7) g))
                        AND r.window_start = w.start)::bigint + 1,
                    (SELECT ceil(extract(epoch FROM w.start + make_interval(secs => $2::int) - now()))::int FROM w)",
            &[&key, &window, &shard],
        )
        .await
        .map_err(|e| Problem::from(DbError::query("counting a rate limit")(e)))?;
    let hits: i64 = row.get(0);
    if hits > i64::from(limit) {
        let wait = u32::try_from(row.get::<_, i32>(1).max(1)).unwrap_or(60);
        return Err(Problem::too_many_requests(
            "Zu viele Einsendungen in kurzer Zeit; bitte später noch einmal. / Too many submissions in a short time; please try again later.",
            wait,
        ));
    }
    Ok(())
}

/// A key part for an e-mail address (hashed, lower case).
#[must_use]
pub fn email_part(email: &str) -> String {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}
