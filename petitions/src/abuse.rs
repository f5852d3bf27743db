//! Abuse tooling for staff: trending detection (one e-mail domain or one client signing far
//! above the usual rate in the last hour) and the bulk invalidation of signatures by domain or
//! client hash. There are no IP addresses anywhere: the client key is the salted daily hash of
//! [`stadtkarte_core::client::hash`], and staff only ever see its first characters.
//!
//! Rate limits, the minimum fill time and the honeypot are checked where signatures are taken
//! (the citizens' pages), not here.

use std::collections::HashMap;

use serde::Serialize;
use stadtkarte_core::config::PetitionsConfig;
use stadtkarte_core::db::DbError;
use stadtkarte_core::tokio_postgres::GenericClient;

/// How many characters of a client hash staff see (and may give to invalidate by).
pub const CLIENT_PREFIX: usize = 12;

/// The client hash of requests whose address was unknown: shared by everyone, never an alert.
const UNKNOWN_CLIENT: &str = "unbekannt";

/// What a signature is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum KeyKind {
    /// The e-mail domain (`example.org`).
    Domain,
    /// The salted daily client hash.
    Client,
}

impl KeyKind {
    /// As in forms and links (`domain`, `client`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Domain => "domain",
            Self::Client => "client",
        }
    }

    /// From a form value.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "domain" => Some(Self::Domain),
            "client" => Some(Self::Client),
            _ => None,
        }
    }

    /// The key of its label (`petitions.admin.abuse.kind_*`).
    #[must_use]
    pub fn label_key(self) -> &'static str {
        match self {
            Self::Domain => "petitions.admin.abuse.kind_domain",
            Self::Client => "petitions.admin.abuse.kind_client",
        }
    }
}

/// One domain or client signing far above the others in the last hour.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// The petition concerned (for an alert across petitions: the one it signed most).
    pub petition_id: i64,
    /// Its title.
    pub title: String,
    /// Domain or client.
    pub kind: KeyKind,
    /// The domain, or the first [`CLIENT_PREFIX`] characters of the client hash.
    pub key: String,
    /// Signatures in the last hour.
    pub count: i64,
    /// The median of the other keys' counts it was compared with.
    pub median: f64,
    /// Counted across every petition (not just this one).
    pub across: bool,
    /// The start of the hour counted (`YYYY-MM-DDTHH:MM`, city time): the invalidation form's
    /// default window.
    pub since: String,
}

/// The median of `counts` without one instance of `own`; 1 when fewer than three others are
/// left (a lone key has nothing to be compared with).
#[must_use]
pub fn median_of_others(counts: &[i64], own: i64) -> f64 {
    let mut others: Vec<i64> = counts.to_vec();
    if let Some(at) = others.iter().position(|c| *c == own) {
        others.remove(at);
    }
    if others.len() < 3 {
        return 1.0;
    }
    others.sort_unstable();
    let mid = others.len() / 2;
    #[allow(clippy::cast_precision_loss)]
    let median = if others.len().is_multiple_of(2) {
        (others[mid - 1] + others[mid]) as f64 / 2.0
    } else {
        others[mid] as f64
    };
    median.max(1.0)
}

/// Whether `count` signatures in an hour are an alert against the others' `median`.
#[must_use]
pub fn is_trending(config: &PetitionsConfig, count: i64, median: f64) -> bool {
    #[allow(clippy::cast_precision_loss)]
    let n = count as f64;
    count > i64::from(config.trending_min_hour) && n > f64::from(config.trending_factor) * median
}

/// A group's scope: every petition (`None`) or one.
type Scope = Option<i64>;

/// The trending alerts of the last hour, the largest first: per e-mail domain and per client
/// hash, across petitions and per petition. An alert across petitions is left out when the
/// same key alerts within a petition already.
pub async fn trending(
    client: &impl GenericClient,
    config: &PetitionsConfig,
) -> Result<Vec<Alert>, DbError> {
    let rows = client
        .query(
            "SELECT GROUPING(s.petition_id) = 0,
                    GROUPING(s.email_domain) = 0,
                    s.petition_id,
                    CASE WHEN GROUPING(s.email_domain) = 0 THEN s.email_domain ELSE s.client_hash END,
                    count(*)
             FROM petitions.signatures s
             WHERE s.created_at > now() - interval '1 hour' AND s.invalidated_at IS NULL
             GROUP BY GROUPING SETS ((s.email_domain), (s.client_hash),
                                     (s.petition_id, s.email_domain), (s.petition_id, s.client_hash))",
            &[],
        )
        .await
        .map_err(DbError::query("looking for trending signers"))?;
    // (scope, kind) → [(key, count)]
    let mut groups: HashMap<(Scope, KeyKind), Vec<(String, i64)>> = HashMap::new();
    for r in &rows {
        let per_petition: bool = r.get(0);
        let kind = if r.get::<_, bool>(1) {
            KeyKind::Domain
        } else {
            KeyKind::Client
        };
        let Some(key) = r.get::<_, Option<String>>(3) else {
            continue;
        };
        if kind == KeyKind::Client && key == UNKNOWN_CLIENT {
            continue;
        }
        let scope = if per_petition {
            r.get::<_, Option<i64>>(2)
        } else {
            None
        };
        groups
            .entry((scope, kind))
            .or_default()
            .push((key, r.get(4)));
    }
    let mut found: Vec<(Scope, KeyKind, String, i64, f64)> = Vec::new();
    for ((scope, kind), keys) in &groups {
        let counts: Vec<i64> = keys.iter().map(|(_, n)| *n).collect();
        for (key, n) in keys {
            if *n <= i64::from(config.trending_min_hour) {
                continue;
            }
            let median = median_of_others(&counts, *n);
            if is_trending(config, *n, median) {
                found.push((*scope, *kind, key.clone(), *n, median));
            }
        }
    }
    let mut alerts = Vec::new();
    for (scope, kind, key, count, median) in &found {
        let petition_id = if let Some(id) = scope {
            *id
        } else {
            let within = found
                .iter()
                .any(|(s, k, other, _, _)| s.is_some() && k == kind && other == key);
            if within {
                continue;
            }
            // The petition this key signed most.
            let most = groups
                .iter()
                .filter(|((s, k), _)| s.is_some() && k == kind)
                .filter_map(|((s, _), keys)| {
                    keys.iter()
                        .find(|(other, _)| other == key)
                        .map(|(_, n)| (*n, *s))
                })
                .max()
                .and_then(|(_, s)| s);
            let Some(id) = most else { continue };
            id
        };
        alerts.push(Alert {
            petition_id,
            title: String::new(),
            kind: *kind,
            key: match kind {
                KeyKind::Domain => key.clone(),
                KeyKind::Client => key.chars().take(CLIENT_PREFIX).collect(),
            },
            count: *count,
            median: *median,
            across: scope.is_none(),
            since: String::new(),
        });
    }
    alerts.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.petition_id.cmp(&b.petition_id))
            .then_with(|| a.key.cmp(&b.key))
    });
    if alerts.is_empty() {
        return Ok(alerts);
    }
    let ids: Vec<i64> = alerts.iter().map(|a| a.petition_id).collect();
    let rows = client
        .query(
            "SELECT id, title,
                    to_char((now() - interval '1 hour') AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD\"T\"HH24:MI')
             FROM petitions.petitions WHERE id = ANY($1)",
            &[&ids],
        )
        .await
        .map_err(DbError::query("reading petition titles"))?;
    let titles: HashMap<i64, (String, String)> = rows
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    for a in &mut alerts {
        if let Some((title, since)) = titles.get(&a.petition_id) {
            a.title.clone_from(title);
            a.since.clone_from(since);
        }
    }
    Ok(alerts)
}

/// Which signatures of a petition to invalidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// By domain or client hash.
    pub kind: KeyKind,
    /// The domain (lower case), or the start of a client hash (at least [`CLIENT_PREFIX`]
    /// hex digits).
    pub key: String,
    /// Signed at or after (`YYYY-MM-DDTHH:MM`, city time).
    pub from: Option<String>,
    /// Signed before.
    pub to: Option<String>,
}

/// What is wrong with a selection (the key of the message, `petitions.admin.abuse.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadSelection {
    /// No or an unknown kind.
    Kind,
    /// Not a domain / not a client hash prefix.
    Key,
    /// A time that is not `YYYY-MM-DDTHH:MM`, or the end before the start.
    Window,
}

impl BadSelection {
    /// The key of its message.
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Self::Kind => "petitions.admin.abuse.bad_kind",
            Self::Key => "petitions.admin.abuse.bad_key",
            Self::Window => "petitions.admin.abuse.bad_window",
        }
    }
}

/// A `datetime-local` value (`YYYY-MM-DDTHH:MM`, seconds allowed), checked.
fn local_time(text: &str) -> Result<Option<String>, BadSelection> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let t = t.replace(' ', "T");
    let (date, time) = t.split_once('T').ok_or(BadSelection::Window)?;
    let num = |s: &str| -> Result<u32, BadSelection> {
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
            return Err(BadSelection::Window);
        }
        s.parse().map_err(|_| BadSelection::Window)
    };
    let d: Vec<&str> = date.split('-').collect();
    let h: Vec<&str> = time.split(':').collect();
    let ([y, m, day], [hh, mm, rest @ ..]) = (d.as_slice(), h.as_slice()) else {
        return Err(BadSelection::Window);
    };
    let year = i32::try_from(num(y)?).map_err(|_| BadSelection::Window)?;
    if chrono::NaiveDate::from_ymd_opt(year, num(m)?, num(day)?).is_none()
        || num(hh)? > 23
        || num(mm)? > 59
        || rest.len() > 1
        || rest
            .first()
            .is_some_and(|s| num(s).map_or(true, |s| s > 59))
    {
        return Err(BadSelection::Window);
    }
    Ok(Some(format!(
        "{year:04}-{:02}-{:02} {:02}:{:02}",
        num(m)?,
        num(day)?,
        num(hh)?,
        num(mm)?
    )))
}

impl Selection {
    /// A selection from the form's fields.
    pub fn from_form(kind: &str, key: &str, from: &str, to: &str) -> Result<Self, BadSelection> {
        let kind = KeyKind::parse(kind).ok_or(BadSelection::Kind)?;
        let key = key.trim().to_lowercase();
        let ok = match kind {
            KeyKind::Domain => {
                key.len() >= 3
                    && key.len() <= 253
                    && key.contains('.')
                    && !key.starts_with('.')
                    && key
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
            }
            KeyKind::Client => {
                (CLIENT_PREFIX..=64).contains(&key.len())
                    && key.chars().all(|c| c.is_ascii_hexdigit())
            }
        };
        if !ok {
            return Err(BadSelection::Key);
        }
        let from = local_time(from)?;
        let to = local_time(to)?;
        if let (Some(f), Some(t)) = (&from, &to)
            && f >= t
        {
            return Err(BadSelection::Window);
        }
        Ok(Self {
            kind,
            key,
            from,
            to,
        })
    }
}

/// What an invalidation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Invalidated {
    /// Signatures invalidated (confirmed or not).
    pub signatures: u64,
    /// Of them, confirmed ones: the counts went down by this many.
    pub counted: u64,
}

/// Invalidates the valid signatures of `petition_id` that match `selection`, with `reason`;
/// the trigger corrects the counts in the same transaction. A threshold reached only with them
/// is reached no more (unless the council has answered).
pub async fn invalidate(
    client: &impl GenericClient,
    petition_id: i64,
    selection: &Selection,
    reason: &str,
) -> Result<Invalidated, DbError> {
    let condition = match selection.kind {
        KeyKind::Domain => "s.email_domain = $2",
        KeyKind::Client => "left(s.client_hash, length($2)) = $2",
    };
    let rows = client
        .query(
            &format!(
                "UPDATE petitions.signatures s SET invalidated_at = now(), invalid_reason = $5
                 WHERE s.petition_id = $1 AND s.invalidated_at IS NULL AND {condition}
                   AND ($3::text IS NULL OR s.created_at >= ($3::text::timestamp AT TIME ZONE 'Europe/Berlin'))
                   AND ($4::text IS NULL OR s.created_at < ($4::text::timestamp AT TIME ZONE 'Europe/Berlin'))
                 RETURNING s.confirmed_at IS NOT NULL"
            ),
            &[
                &petition_id,
                &selection.key,
                &selection.from,
                &selection.to,
                &reason,
            ],
        )
        .await
        .map_err(DbError::query("invalidating signatures"))?;
    let counted = rows.iter().filter(|r| r.get::<_, bool>(0)).count() as u64;
    if counted > 0 {
        client
            .execute(
                "UPDATE petitions.petitions p SET threshold_reached_at = NULL, updated_at = now()
                 WHERE p.id = $1 AND p.threshold_reached_at IS NOT NULL AND p.response IS NULL
                   AND (SELECT coalesce(sum(n) FILTER (WHERE resident OR NOT p.residents_only), 0)
                          FROM petitions.counts c WHERE c.petition_id = p.id) < p.threshold",
                &[&petition_id],
            )
            .await
            .map_err(DbError::query("re-checking the threshold"))?;
    }
    Ok(Invalidated {
        signatures: rows.len() as u64,
        counted,
    })
}

/// Where a petition's valid signatures come from: the largest domains and clients (prefixes).
#[derive(Debug, Clone, Default)]
pub struct Origins {
    /// (domain, signatures, of them in the last hour).
    pub domains: Vec<(String, i64, i64)>,
    /// (client prefix, signatures, of them in the last hour).
    pub clients: Vec<(String, i64, i64)>,
}

/// The ten largest domains and clients of a petition's valid signatures.
pub async fn origins(client: &impl GenericClient, petition_id: i64) -> Result<Origins, DbError> {
    let rows = client
        .query(
            "(SELECT 'domain', email_domain, count(*), count(*) FILTER (WHERE created_at > now() - interval '1 hour')
               FROM petitions.signatures
              WHERE petition_id = $1 AND invalidated_at IS NULL AND email_domain IS NOT NULL
              GROUP BY email_domain ORDER BY 3 DESC, 2 LIMIT 10)
             UNION ALL
             (SELECT 'client', left(client_hash, $2), count(*), count(*) FILTER (WHERE created_at > now() - interval '1 hour')
               FROM petitions.signatures
              WHERE petition_id = $1 AND invalidated_at IS NULL AND client_hash IS NOT NULL AND client_hash <> $3
              GROUP BY left(client_hash, $2) ORDER BY 3 DESC, 2 LIMIT 10)",
            &[
                &petition_id,
                &i32::try_from(CLIENT_PREFIX).unwrap_or(12),
                &UNKNOWN_CLIENT,
            ],
        )
        .await
        .map_err(DbError::query("reading where signatures come from"))?;
    let mut out = Origins::default();
    for r in &rows {
        let entry = (r.get(1), r.get(2), r.get(3));
        if r.get::<_, &str>(0) == "domain" {
            out.domains.push(entry);
        } else {
            out.clients.push(entry);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_leaves_the_key_itself_out_and_is_one_when_few() {
        assert!((median_of_others(&[500, 2], 500) - 1.0).abs() < f64::EPSILON);
        assert!((median_of_others(&[500, 3, 5, 7], 500) - 5.0).abs() < f64::EPSILON);
        assert!((median_of_others(&[500, 3, 5, 7, 9], 500) - 6.0).abs() < f64::EPSILON);
        assert!((median_of_others(&[0, 0, 0, 80], 80) - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn an_alert_needs_both_the_minimum_and_the_factor() {
        let config = PetitionsConfig {
            trending_min_hour: 50,
            trending_factor: 10,
            ..PetitionsConfig::default()
        };
        assert!(is_trending(&config, 120, 5.0));
        assert!(!is_trending(&config, 40, 1.0), "below the minimum");
        assert!(
            !is_trending(&config, 120, 20.0),
            "a big provider among big ones"
        );
    }

    #[test]
    fn selections_are_checked() {
        let s = Selection::from_form("domain", " Spam.Example ", "2025-03-01T10:00", "").unwrap();
        assert_eq!(s.key, "spam.example");
        assert_eq!(s.from.as_deref(), Some("2025-03-01 10:00"));
        assert_eq!(
            Selection::from_form("client", "abc", "", ""),
            Err(BadSelection::Key)
        );
        assert!(Selection::from_form("client", "0123456789abcdef", "", "").is_ok());
        assert_eq!(
            Selection::from_form("domain", "x.de", "2025-02-30T10:00", ""),
            Err(BadSelection::Window)
        );
        assert_eq!(
            Selection::from_form("domain", "x.de", "2025-03-01T10:00", "2025-03-01T09:00"),
            Err(BadSelection::Window)
        );
        assert_eq!(
            Selection::from_form("ip", "x.de", "", ""),
            Err(BadSelection::Kind)
        );
        assert_eq!(
            Selection::from_form("domain", "x.de'; --", "", ""),
            Err(BadSelection::Key)
        );
    }
}
