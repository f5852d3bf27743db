//! Configuration: a TOML file plus `STADTKARTE_*` environment overrides.
//!
//! The file is optional; every key has a default that suits a developer machine. Environment
//! variables override the file: `STADTKARTE_DATABASE__URL` sets `database.url` (two
//! underscores separate the section from the key). An unknown key or a value of the wrong type
//! stops start-up with an error that names the key, so a typo never goes unnoticed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "STADTKARTE_";

/// The conventional variable for the database's address (Heroku, Render, Fly.io, …).
pub const DATABASE_URL_ALIAS: &str = "DATABASE_URL";

/// Where `database.url` came from, named for the start-up line (never the address itself,
/// which may hold a password): the prefixed variable, the alias, or the file and defaults.
#[must_use]
pub fn database_url_source(env: &[(String, String)]) -> &'static str {
    let set = |name: &str| env.iter().any(|(n, v)| n == name && !v.is_empty());
    if set("STADTKARTE_DATABASE__URL") {
        "STADTKARTE_DATABASE__URL"
    } else if set(DATABASE_URL_ALIAS) {
        DATABASE_URL_ALIAS
    } else {
        "database.url (configuration file or default)"
    }
}

/// Environment variables with the prefix that are not configuration keys.
const ENV_NOT_KEYS: &[&str] = &["config", "bin"];

/// The validated configuration of one `stadtkarte` process.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The HTTP server.
    pub server: ServerConfig,
    /// The PostgreSQL/PostGIS database.
    pub database: DatabaseConfig,
    /// Logging.
    pub log: LogConfig,
    /// The municipality and its defaults for data.
    pub city: CityConfig,
    /// OGC API Features.
    pub features: FeaturesConfig,
    /// Vector tiles.
    pub tiles: TilesConfig,
    /// Open data.
    pub opendata: OpendataConfig,
    /// Aerial imagery.
    pub imagery: ImageryConfig,
    /// Load shedding: how much database work runs at once.
    pub load: LoadConfig,
    /// Staff accounts, sign-in and sessions.
    pub auth: AuthConfig,
    /// The demo (`stadtkarte demo`).
    pub demo: DemoConfig,
    /// Outgoing mail.
    pub mail: MailConfig,
    /// The Mängelmelder (defect reports, Open311).
    pub maengel: MaengelConfig,
    /// The petitions map.
    pub petitions: PetitionsConfig,
}

/// `[petitions]`: the petitions map (the districts and the city's area are the Mängelmelder's).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PetitionsConfig {
    /// Days a petition is open for signatures once published (default: six months).
    pub duration_days: u32,
    /// Confirmed sponsor signatures a petition needs before moderation (0: straight to it).
    pub sponsors: u32,
    /// Signatures at which the council must respond.
    pub threshold: u32,
    /// Only residents (a Koblenz postcode or district) count towards the threshold.
    pub threshold_residents_only: bool,
    /// The city's postcodes: a signer with one of them is a resident.
    pub postcodes: Vec<String>,
    /// The districts collection's postcode column (the district follows from the postcode when
    /// only one district has it).
    pub district_postcode_column: String,
    /// A second signature from the same e-mail address with another name and the same postcode
    /// counts (UK e-petitions' household rule).
    pub household_rule: bool,
    /// Hours an unconfirmed signature (or petition) waits for its confirmation.
    pub confirm_hours: u32,
    /// Days after closing after which signatures are anonymised (name replaced, e-mail and
    /// postcode removed, district kept).
    pub anonymise_after_days: u32,
    /// Comments under petitions.
    pub comments: bool,
    /// Reports after which a comment is hidden until a moderator restores it.
    pub comment_reports_to_hide: u32,
    /// Seconds a person needs at least to fill a form.
    pub min_fill_secs: i64,
    /// Signatures per client (salted daily hash) and hour.
    pub signatures_per_client_hour: u32,
    /// Signatures per e-mail domain and hour (large providers are many people: generous).
    pub signatures_per_domain_hour: u32,
    /// Petitions started per e-mail address and day.
    pub petitions_per_email_day: u32,
    /// Trending alert: one domain or client signing more than this many in an hour …
    pub trending_min_hour: u32,
    /// … and more than this many times the median of the others.
    pub trending_factor: u32,
}

impl Default for PetitionsConfig {
    fn default() -> Self {
        Self {
            duration_days: 182,
            sponsors: 0,
            threshold: 2000,
            threshold_residents_only: true,
            postcodes: [
                "56068", "56070", "56072", "56073", "56075", "56076", "56077",
            ]
            .map(str::to_owned)
            .to_vec(),
            district_postcode_column: "plz".to_owned(),
            household_rule: true,
            confirm_hours: 72,
            anonymise_after_days: 182,
            comments: true,
            comment_reports_to_hide: 3,
            min_fill_secs: 3,
            signatures_per_client_hour: 30,
            signatures_per_domain_hour: 5000,
            petitions_per_email_day: 3,
            trending_min_hour: 50,
            trending_factor: 10,
        }
    }
}

/// `[maengel]`: the defect reporter.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MaengelConfig {
    /// The collection whose polygons are the city's districts; together they are the area in
    /// which reports are accepted.
    pub districts_collection: String,
    /// Its column with the district's name.
    pub district_name_column: String,
    /// The collection with the city's addresses (the address search, the no-JavaScript form).
    pub addresses_collection: String,
    /// Its street column.
    pub street_column: String,
    /// Its house-number column.
    pub number_column: String,
    /// Largest photo file in bytes.
    pub photo_max_bytes: usize,
    /// Largest photo in megapixels (checked from the header, before decoding).
    pub photo_max_megapixels: u32,
    /// Photos processed at once (decoding and encoding, off the async workers).
    pub photo_workers: usize,
    /// Long edge of the displayed photo in pixels (at most; a JPEG may come out up to 1/16 smaller
    /// when that lets the decoder work at half, quarter or eighth size).
    pub photo_display_edge: u32,
    /// Long edge of the thumbnail in pixels.
    pub photo_thumb_edge: u32,
    /// Days after closing after which contact data and internal originals are deleted.
    pub retention_days: u32,
    /// "Schon gemeldet?": open reports of the same category within this many metres …
    pub nearby_metres: f64,
    /// … reported within this many days.
    pub nearby_days: u32,
    /// Seconds a person needs at least to fill the form (faster is refused as automated).
    pub min_fill_secs: i64,
    /// Reports per client (salted daily hash of the address) and hour.
    pub reports_per_client_hour: u32,
    /// Reports per e-mail address and day.
    pub reports_per_email_day: u32,
    /// Open311 POSTs per API key and minute.
    pub reports_per_api_key_minute: u32,
    /// Open311 `jurisdiction_id` (empty: none; the server then accepts requests without one).
    pub jurisdiction_id: String,
    /// Open311 discovery: where people ask questions about the API.
    pub open311_contact: String,
    /// Open311 discovery: how to get an API key.
    pub open311_key_service: String,
    /// Hour of the day (Europe/Berlin) when departments get their daily digest.
    pub digest_hour: u32,
}

impl Default for MaengelConfig {
    fn default() -> Self {
        Self {
            districts_collection: "stadtteile".to_owned(),
            district_name_column: "name".to_owned(),
            addresses_collection: "gebaeude".to_owned(),
            street_column: "strasse".to_owned(),
            number_column: "hausnummer".to_owned(),
            photo_max_bytes: 20 * 1024 * 1024,
            photo_max_megapixels: 50,
            photo_workers: 2,
            photo_display_edge: 2048,
            photo_thumb_edge: 320,
            retention_days: 90,
            nearby_metres: 50.0,
            nearby_days: 30,
            min_fill_secs: 3,
            reports_per_client_hour: 20,
            reports_per_email_day: 20,
            reports_per_api_key_minute: 600,
            jurisdiction_id: String::new(),
            open311_contact: "Stadtverwaltung, opendata@koblenz.example".to_owned(),
            open311_key_service: "API-Schlüssel für eigene Anwendungen gibt die Stadtverwaltung aus: opendata@koblenz.example".to_owned(),
            digest_hour: 7,
        }
    }
}

/// `[mail]`: the outboxes' sender.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// Send mail; `false` keeps it in the outboxes (shown to admins at /admin/postausgang).
    pub enabled: bool,
    /// SMTP server.
    pub smtp_host: String,
    /// Its port.
    pub smtp_port: u16,
    /// `none` (plain, only for a server on this machine), `starttls` or `tls`.
    pub smtp_tls: String,
    /// User name (empty: no authentication).
    pub smtp_user: String,
    /// Password (better: `STADTKARTE_MAIL__SMTP_PASSWORD`).
    pub smtp_password: String,
    /// Sender address.
    pub from: String,
    /// Seconds between two rounds of the sender.
    pub interval_secs: u64,
    /// Days sent mail is kept before it is deleted.
    pub keep_sent_days: u64,
    /// Seconds before the first retry of a failed mail (doubling up to an hour).
    pub retry_base_secs: u32,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            smtp_host: "127.0.0.1".to_owned(),
            smtp_port: 25,
            smtp_tls: "none".to_owned(),
            smtp_user: String::new(),
            smtp_password: String::new(),
            from: "Stadtkarte <noreply@koblenz.example>".to_owned(),
            interval_secs: 5,
            keep_sent_days: 7,
            retry_base_secs: 30,
        }
    }
}

/// `[demo]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// The password of the demo's staff accounts (one per role). Only for demonstrations.
    pub staff_password: String,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            staff_password: "Rhein-und-Mosel-1958".to_owned(),
        }
    }
}

/// `[auth]`: staff sign-in and sessions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Minutes without a request after which a session ends.
    pub session_idle_minutes: u64,
    /// Hours after sign-in after which a session ends in any case.
    pub session_absolute_hours: u64,
    /// Roles that must sign in with a second factor (TOTP); `admin` always does.
    pub totp_required_for: Vec<String>,
    /// Failed sign-ins (per account or client) before each further attempt is delayed.
    pub delay_after_failures: u32,
    /// Failed sign-ins (per account or client) before it is locked.
    pub lock_after_failures: u32,
    /// Minutes an account or client stays locked.
    pub lock_minutes: u64,
    /// Threads that compute password hashes (each hash takes 19 MiB and ~50 ms of a core);
    /// they run at the lowest scheduling priority, so a sign-in flood waits for the map.
    pub hash_concurrency: usize,
    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// Single sign-on with OpenID Connect.
    pub oidc: OidcConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_idle_minutes: 30,
            session_absolute_hours: 10,
            totp_required_for: vec!["admin".to_owned()],
            delay_after_failures: 3,
            lock_after_failures: 10,
            lock_minutes: 15,
            hash_concurrency: 1,
            trusted_proxies: Vec::new(),
            oidc: OidcConfig::default(),
        }
    }
}

/// `[auth.oidc]`: single sign-on (authorization code with PKCE); off by default.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    /// Offer "sign in with the city's account".
    pub enabled: bool,
    /// The provider's issuer URL (its discovery document is at
    /// `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    /// Our client id at the provider.
    pub client_id: String,
    /// Our client secret (better: `STADTKARTE_AUTH__OIDC__CLIENT_SECRET`).
    pub client_secret: String,
    /// The claim of the ID token that lists the roles (`admin`, `triage:tiefbau`, `moderator`,
    /// `editor`).
    pub roles_claim: String,
    /// Label of the button on the sign-in page.
    pub label: String,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            issuer: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            roles_claim: "roles".to_owned(),
            label: "Mit dem Dienstkonto anmelden".to_owned(),
        }
    }
}

/// `[load]`: bounds on concurrent database work per kind of request. A request beyond the
/// bound waits in a short queue; when the queue is full, or the wait too long, it gets a 503
/// with `Retry-After` at once, so cached tiles and imagery stay fast under overload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LoadConfig {
    /// Feature queries (items, item, queryables) running at once.
    pub items: usize,
    /// Vector tiles rendered at once (cache misses).
    pub tile_renders: usize,
    /// Downloads streamed or made at once.
    pub downloads: usize,
    /// Writes (reports, signatures, staff changes) at once.
    pub writes: usize,
    /// Requests per kind that may wait for a free slot.
    pub queue: usize,
    /// Longest wait for a slot, in milliseconds.
    pub queue_wait_ms: u64,
    /// `Retry-After` of a shed request, in seconds.
    pub retry_after_secs: u32,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            items: 8,
            tile_renders: 8,
            downloads: 4,
            writes: 8,
            queue: 64,
            queue_wait_ms: 1_000,
            retry_after_secs: 2,
        }
    }
}

/// `[imagery]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ImageryConfig {
    /// Folder of the prepared tile pyramids (one sub-folder per epoch). A relative path is
    /// relative to the working directory.
    pub dir: String,
    /// WebP quality (1–100) of imported tiles.
    pub quality: u8,
    /// `Cache-Control: max-age` of imagery tiles, in seconds (their URLs change with every
    /// import through the ETag, the tiles themselves are immutable per version).
    pub max_age_secs: u32,
}

impl Default for ImageryConfig {
    fn default() -> Self {
        Self {
            dir: "data/imagery".to_owned(),
            quality: 80,
            max_age_secs: 86_400,
        }
    }
}

/// `[opendata]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct OpendataConfig {
    /// Folder for generated download files (GeoJSON, CSV, GeoPackage, Shapefile, …), kept per
    /// data version; one folder per database. Empty: a folder per database in the system's
    /// temporary directory.
    pub cache_dir: String,
    /// Prepare every download in the background, so that sizes are known before download and
    /// every file is served from the cache.
    pub prepare_downloads: bool,
    /// Seconds between two rounds of the download preparer.
    pub prepare_interval_secs: u64,
    /// At start-up, create the open-data datasets of the Mängelmelder's reports and of the
    /// petitions when they are missing (never changes them once there). `false` for a city that
    /// does not publish them.
    pub participation_datasets: bool,
}

impl Default for OpendataConfig {
    fn default() -> Self {
        Self {
            cache_dir: String::new(),
            prepare_downloads: true,
            prepare_interval_secs: 60,
            participation_datasets: true,
        }
    }
}

/// `[tiles]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TilesConfig {
    /// Bytes of compressed tiles kept in memory.
    pub cache_bytes: u64,
    /// A tile larger than this (uncompressed) is logged as a warning.
    pub max_tile_bytes: usize,
    /// `Cache-Control: max-age` of tiles, in seconds.
    pub max_age_secs: u32,
}

impl Default for TilesConfig {
    fn default() -> Self {
        Self {
            cache_bytes: 256 * 1024 * 1024,
            max_tile_bytes: 500 * 1024,
            max_age_secs: 60,
        }
    }
}

/// `[features]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct FeaturesConfig {
    /// Features per page when the request names no `limit`.
    pub default_limit: u32,
    /// Largest page; a larger `limit` is reduced to it.
    pub max_limit: u32,
    /// `numberMatched` is given when at most this many features match (0: never).
    pub number_matched_cap: u32,
    /// Most keys a `sortby` may name.
    pub max_sort_keys: usize,
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        Self {
            default_limit: 10,
            max_limit: 10_000,
            number_matched_cap: 10_000,
            max_sort_keys: 8,
        }
    }
}

/// `[city]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CityConfig {
    /// Name of the municipality.
    pub name: String,
    /// EPSG code geometries are stored in.
    pub storage_srid: i32,
    /// Licence given to imported data unless the import names another.
    pub license: String,
    /// Attribution given to imported data unless the import names another.
    pub attribution: String,
    /// Publisher's web site (open-data metadata).
    pub publisher_url: String,
    /// Contact point of the open data (name).
    pub contact_name: String,
    /// Contact point of the open data (e-mail; set the real address).
    pub contact_email: String,
    /// DCAT-AP.de `contributorID`: the portal that delivers to GovData.
    pub contributor_id: String,
    /// DCAT-AP.de political geocoding of the municipality.
    pub political_geocoding: String,
    /// DCAT-AP.de political geocoding level.
    pub political_geocoding_level: String,
    /// Where the footer of every page links the imprint (Impressum): the city's own page, or
    /// the placeholder at `/impressum`.
    pub imprint_url: String,
    /// Where the footer of every page links the privacy notice (Datenschutzerklärung): the
    /// city's own page, or the placeholder at `/datenschutz`.
    pub privacy_url: String,
}

impl Default for CityConfig {
    fn default() -> Self {
        Self {
            name: "Koblenz".to_owned(),
            storage_srid: 25832,
            license: "Datenlizenz Deutschland – Namensnennung – Version 2.0".to_owned(),
            attribution: "Stadt Koblenz".to_owned(),
            publisher_url: "https://www.koblenz.de".to_owned(),
            contact_name: "Stadt Koblenz, Open Data".to_owned(),
            contact_email: "opendata@example.org".to_owned(),
            contributor_id:
                "http://dcat-ap.de/def/contributors/openGovernmentDataPortalRheinlandPfalz"
                    .to_owned(),
            political_geocoding:
                "http://dcat-ap.de/def/politicalGeocoding/regionalKey/071110000000".to_owned(),
            political_geocoding_level:
                "http://dcat-ap.de/def/politicalGeocoding/Level/municipality".to_owned(),
            imprint_url: "/impressum".to_owned(),
            privacy_url: "/datenschutz".to_owned(),
        }
    }
}

/// `[server]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// The address under which clients reach the server; base of every absolute link.
    /// Empty means `http://` plus `listen`.
    pub public_url: String,
    /// Seconds that running requests get to finish after SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Seconds a client has to send a request's headers.
    pub header_timeout_secs: u64,
    /// Seconds a connection with no request running and no byte moving stays open.
    pub idle_timeout_secs: u64,
    /// Seconds a client has to send a request's body.
    pub body_timeout_secs: u64,
    /// Open connections at most; further ones wait until one closes.
    pub max_connections: usize,
    /// Largest request body in bytes (larger ones get 413 before they are read whole).
    pub max_body_bytes: usize,
}

/// `[database]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// libpq-style URL or key=value connection string: the role the server runs as.
    pub url: String,
    /// The role that owns the schemas, for migrations (on `serve` and `migrate`) and for the
    /// command-line tools (imports, demo, users); empty: `url`.
    pub migration_url: String,
    /// Largest number of connections the pool opens.
    pub pool_size: usize,
    /// Seconds to wait for a new connection before the request fails.
    pub connect_timeout_secs: u64,
    /// Seconds between attempts to reach the database while it is down at start-up.
    pub retry_interval_secs: u64,
    /// Streaming standbys for reads that need not see their own writes (items, tiles, open
    /// data, catalogs): connection strings, as a list or one string separated by commas (so
    /// `STADTKARTE_DATABASE__REPLICAS` can hold several). Empty: everything on `url`.
    #[serde(deserialize_with = "one_or_many")]
    pub replicas: Vec<String>,
    /// Seconds a replica may lag behind `url` before reads skip it (it is admitted again once
    /// it has caught up).
    pub max_replica_lag_secs: u64,
}

/// A list of strings given as a list or as one string separated by commas (an environment
/// variable has no lists; key=value connection strings contain spaces but no commas).
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let items = match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(text) => text.split(',').map(str::to_owned).collect(),
        OneOrMany::Many(items) => items,
    };
    Ok(items
        .into_iter()
        .map(|i| i.trim().to_owned())
        .filter(|i| !i.is_empty())
        .collect())
}

/// `[log]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `info,stadtkarte_core=debug`. `RUST_LOG` wins.
    pub level: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: String::new(),
            shutdown_grace_secs: 10,
            header_timeout_secs: 15,
            idle_timeout_secs: 60,
            body_timeout_secs: 30,
            max_connections: 2_048,
            max_body_bytes: 2 * 1024 * 1024,
        }
    }
}

impl DatabaseConfig {
    /// The connection string of the schemas' owner (migrations, command-line tools).
    #[must_use]
    pub fn owner_url(&self) -> &str {
        if self.migration_url.is_empty() {
            &self.url
        } else {
            &self.migration_url
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "postgresql://stadtkarte@127.0.0.1:5439/stadtkarte".to_owned(),
            migration_url: String::new(),
            pool_size: 16,
            connect_timeout_secs: 3,
            retry_interval_secs: 2,
            replicas: Vec::new(),
            max_replica_lag_secs: 5,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A config file was named but is not there.
    #[error("configuration file {} does not exist", .0.display())]
    FileMissing(PathBuf),
    /// The file is not valid TOML, a key is unknown or a value has the wrong type.
    #[error("configuration: {0}")]
    Invalid(String),
    /// A value has the right type but cannot be used.
    #[error("configuration key `{key}`: {reason}")]
    BadValue {
        /// Dotted key, e.g. `database.url`.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl Config {
    /// Loads the defaults, then `file` (when given), then the `STADTKARTE_*` environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// Like [`Config::load`] with an explicit environment, so tests need not touch the process's.
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::FileMissing(path.to_owned()));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let env: Vec<(String, String)> = env.into_iter().collect();
        // `DATABASE_URL`, which hosting platforms set, is the conventional alias of
        // `STADTKARTE_DATABASE__URL` (which wins when both are set).
        if let Some((name, value)) = env.iter().find(|(n, _)| n == DATABASE_URL_ALIAS) {
            figment = figment.merge(EnvOverride {
                key: "database.url".to_owned(),
                value: value.clone(),
                name: name.clone(),
            });
        }
        for (name, value) in env {
            let Some(key) = name.strip_prefix(ENV_PREFIX).map(str::to_ascii_lowercase) else {
                continue;
            };
            if !ENV_NOT_KEYS.contains(&key.as_str()) {
                figment = figment.merge(EnvOverride {
                    key: key.replace("__", "."),
                    value,
                    name,
                });
            }
        }
        let config: Self = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(describe(&e)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        tokio_postgres::Config::from_str(&self.database.url).map_err(|e| {
            ConfigError::BadValue {
                key: "database.url",
                reason: format!("not a PostgreSQL connection string ({e})"),
            }
        })?;
        if !(1024..=998_999).contains(&self.city.storage_srid) {
            return Err(ConfigError::BadValue {
                key: "city.storage_srid",
                reason: "must be an EPSG code such as 25832".to_owned(),
            });
        }
        if self.features.default_limit == 0 || self.features.default_limit > self.features.max_limit
        {
            return Err(ConfigError::BadValue {
                key: "features.default_limit",
                reason: "must be between 1 and features.max_limit".to_owned(),
            });
        }
        if self.database.max_replica_lag_secs == 0 {
            return Err(ConfigError::BadValue {
                key: "database.max_replica_lag_secs",
                reason: "must be at least 1 second".to_owned(),
            });
        }
        if self.database.pool_size == 0 {
            return Err(ConfigError::BadValue {
                key: "database.pool_size",
                reason: "must be at least 1".to_owned(),
            });
        }
        if !["none", "starttls", "tls"].contains(&self.mail.smtp_tls.as_str()) {
            return Err(ConfigError::BadValue {
                key: "mail.smtp_tls",
                reason: "must be none, starttls or tls".to_owned(),
            });
        }
        if self.maengel.digest_hour > 23 {
            return Err(ConfigError::BadValue {
                key: "maengel.digest_hour",
                reason: "must be an hour of the day, 0 to 23".to_owned(),
            });
        }
        if self.maengel.photo_workers == 0 || self.maengel.photo_max_megapixels == 0 {
            return Err(ConfigError::BadValue {
                key: "maengel.photo_workers",
                reason: "photo_workers and photo_max_megapixels must be at least 1".to_owned(),
            });
        }
        if !(1..=100).contains(&self.imagery.quality) {
            return Err(ConfigError::BadValue {
                key: "imagery.quality",
                reason: "must be between 1 and 100".to_owned(),
            });
        }
        for (key, url) in [
            ("city.imprint_url", &self.city.imprint_url),
            ("city.privacy_url", &self.city.privacy_url),
        ] {
            let fine = (url.starts_with('/') && !url.starts_with("//"))
                || url.starts_with("https://")
                || url.starts_with("http://");
            if !fine {
                return Err(ConfigError::BadValue {
                    key,
                    reason: "must be a path on this server (/…) or an http(s):// address"
                        .to_owned(),
                });
            }
        }
        let url = &self.server.public_url;
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::BadValue {
                key: "server.public_url",
                reason: "must start with http:// or https://".to_owned(),
            });
        }
        Ok(())
    }

    /// The public base URL without a trailing slash.
    #[must_use]
    pub fn base_url(&self) -> String {
        if self.server.public_url.is_empty() {
            format!("http://{}", self.server.listen)
        } else {
            self.server.public_url.trim_end_matches('/').to_owned()
        }
    }
}

/// One line per problem, naming the key and where its value came from.
fn describe(error: &figment::Error) -> String {
    error
        .clone()
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let origin = e
                .metadata
                .as_ref()
                .map(|m| match &m.source {
                    Some(figment::Source::File(path)) => format!(" (in {})", path.display()),
                    Some(source) => format!(" (in {source})"),
                    None => format!(" (from {})", m.name),
                })
                .unwrap_or_default();
            // TOML parse errors span several lines with a drawing of the spot; keep the words.
            let what = e
                .kind
                .to_string()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.contains('|'))
                .collect::<Vec<_>>()
                .join(": ");
            if key.is_empty() {
                format!("{what}{origin}")
            } else {
                format!("key `{key}`: {what}{origin}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// One `STADTKARTE_SECTION__KEY=value` variable as a figment provider, so errors name it.
struct EnvOverride {
    name: String,
    key: String,
    value: String,
}

impl Provider for EnvOverride {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("environment variable {}", self.name))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        // `8080` becomes a number, `true` a boolean, anything else stays a string.
        let value = self
            .value
            .parse::<Value>()
            .unwrap_or_else(|_| Value::from(self.value.clone()));
        Serialized::global(&self.key, value).data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn no_env() -> Vec<(String, String)> {
        Vec::new()
    }

    #[test]
    fn defaults_without_file() {
        assert_eq!(
            Config::load_from(None, no_env()).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn database_url_is_the_alias_of_the_prefixed_variable() {
        let f = file("[database]\nurl = \"postgresql://file@db/file\"\n");
        let pair = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        let alias = vec![pair("DATABASE_URL", "postgresql://alias@db/alias")];
        let c = Config::load_from(Some(f.path()), alias.clone()).unwrap();
        assert_eq!(c.database.url, "postgresql://alias@db/alias");
        assert_eq!(database_url_source(&alias), "DATABASE_URL");
        let both = vec![
            pair("STADTKARTE_DATABASE__URL", "postgresql://own@db/own"),
            pair("DATABASE_URL", "postgresql://alias@db/alias"),
        ];
        let c = Config::load_from(Some(f.path()), both.clone()).unwrap();
        assert_eq!(
            c.database.url, "postgresql://own@db/own",
            "the prefixed one wins"
        );
        assert_eq!(database_url_source(&both), "STADTKARTE_DATABASE__URL");
        let c = Config::load_from(Some(f.path()), no_env()).unwrap();
        assert_eq!(c.database.url, "postgresql://file@db/file");
        assert!(database_url_source(&no_env()).starts_with("database.url"));
        let bad = Config::load_from(None, vec![pair("DATABASE_URL", "not a url")])
            .unwrap_err()
            .to_string();
        assert!(bad.contains("database.url"), "{bad}");
    }

    #[test]
    fn replicas_as_a_list_or_one_string() {
        let f =
            file("[database]\nreplicas = [\"postgresql://a@h1:5433/x\", \"host=h2 port=5434\"]\n");
        let c = Config::load_from(Some(f.path()), no_env()).unwrap();
        assert_eq!(
            c.database.replicas,
            ["postgresql://a@h1:5433/x", "host=h2 port=5434"]
        );
        let env = vec![(
            "STADTKARTE_DATABASE__REPLICAS".to_owned(),
            "postgresql://a@h1:5433/x, postgresql://a@h2:5434/x".to_owned(),
        )];
        let c = Config::load_from(None, env).unwrap();
        assert_eq!(
            c.database.replicas,
            ["postgresql://a@h1:5433/x", "postgresql://a@h2:5434/x"]
        );
        assert_eq!(c.database.max_replica_lag_secs, 5);
        let env = vec![(
            "STADTKARTE_DATABASE__MAX_REPLICA_LAG_SECS".to_owned(),
            "0".to_owned(),
        )];
        let e = Config::load_from(None, env).unwrap_err().to_string();
        assert!(e.contains("database.max_replica_lag_secs"), "{e}");
    }

    #[test]
    fn file_then_environment() {
        let f = file("[server]\nlisten = \"127.0.0.1:9999\"\n[log]\nformat = \"json\"\n");
        let env = vec![
            (
                "STADTKARTE_SERVER__LISTEN".to_owned(),
                "127.0.0.1:7000".to_owned(),
            ),
            ("STADTKARTE_DATABASE__POOL_SIZE".to_owned(), "3".to_owned()),
            ("STADTKARTE_CONFIG".to_owned(), "ignored.toml".to_owned()),
            ("OTHER".to_owned(), "x".to_owned()),
        ];
        let c = Config::load_from(Some(f.path()), env).unwrap();
        assert_eq!(c.server.listen.port(), 7000);
        assert_eq!(c.database.pool_size, 3);
        assert_eq!(c.log.format, LogFormat::Json);
    }

    #[test]
    fn unknown_key_is_named() {
        let f = file("[database]\nurll = \"x\"\n");
        let e = Config::load_from(Some(f.path()), no_env())
            .unwrap_err()
            .to_string();
        assert!(e.contains("urll"), "{e}");
    }

    #[test]
    fn unknown_environment_key_is_named() {
        let env = vec![("STADTKARTE_SERVER__LISTN".to_owned(), "x".to_owned())];
        let e = Config::load_from(None, env).unwrap_err().to_string();
        assert!(e.contains("listn"), "{e}");
    }

    #[test]
    fn wrong_type_is_named() {
        let f = file("[database]\npool_size = \"many\"\n");
        let e = Config::load_from(Some(f.path()), no_env())
            .unwrap_err()
            .to_string();
        assert!(e.contains("database.pool_size"), "{e}");
    }

    #[test]
    fn malformed_toml_is_reported() {
        let f = file("[server\nlisten = 1\n");
        let e = Config::load_from(Some(f.path()), no_env())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("configuration:"), "{e}");
    }

    #[test]
    fn bad_database_url_is_named() {
        let env = vec![(
            "STADTKARTE_DATABASE__URL".to_owned(),
            "postgresql://a:b@h:notaport/x".to_owned(),
        )];
        let e = Config::load_from(None, env).unwrap_err().to_string();
        assert!(e.contains("database.url"), "{e}");
    }

    #[test]
    fn public_url_follows_listen_unless_set() {
        let env = vec![(
            "STADTKARTE_SERVER__LISTEN".to_owned(),
            "127.0.0.1:9000".to_owned(),
        )];
        assert_eq!(
            Config::load_from(None, env).unwrap().base_url(),
            "http://127.0.0.1:9000"
        );
        let env = vec![(
            "STADTKARTE_SERVER__PUBLIC_URL".to_owned(),
            "https://geo.koblenz.de/".to_owned(),
        )];
        assert_eq!(
            Config::load_from(None, env).unwrap().base_url(),
            "https://geo.koblenz.de"
        );
        let env = vec![(
            "STADTKARTE_SERVER__PUBLIC_URL".to_owned(),
            "geo.koblenz.de".to_owned(),
        )];
        let e = Config::load_from(None, env).unwrap_err().to_string();
        assert!(e.contains("server.public_url"), "{e}");
    }

    #[test]
    fn legal_pages_are_paths_or_web_addresses() {
        let env = |v: &str| vec![("STADTKARTE_CITY__IMPRINT_URL".to_owned(), v.to_owned())];
        for fine in ["/impressum", "https://www.koblenz.de/impressum"] {
            assert_eq!(
                Config::load_from(None, env(fine)).unwrap().city.imprint_url,
                fine
            );
        }
        for bad in [
            "javascript:alert(1)",
            "//elsewhere.example",
            "impressum",
            "",
        ] {
            let e = Config::load_from(None, env(bad)).unwrap_err().to_string();
            assert!(e.contains("city.imprint_url"), "{bad}: {e}");
        }
    }

    #[test]
    fn missing_file_is_named() {
        let e = Config::load_from(Some(Path::new("/nonexistent/stadtkarte.toml")), no_env())
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/stadtkarte.toml"), "{e}");
    }

    #[test]
    fn example_file_matches_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stadtkarte.example.toml");
        let c = Config::load_from(Some(&path), no_env()).unwrap();
        assert_eq!(c, Config::default());
    }
}
