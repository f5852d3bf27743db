//! The citizen's side: starting a petition (`/petitionen/neu`: the place drawn on the map by the
//! script, or districts chosen without JavaScript), the creator's confirmation, signing, the
//! signature's confirmation, and the privacy notice for signers.
//!
//! Every form carries the platform's stamp and decoy ([`formguard`]) and is rate-limited by the
//! client's daily hash and by e-mail address or domain — never by the address itself. What is
//! stored and the mail it owes are one transaction: with the SMTP server down the mail waits
//! in the outbox, with the database down nothing is half-stored and the form comes back with
//! what was typed (503). A link from a mail opens a page; only its button (a POST) changes
//! anything, so mail scanners that open links confirm nothing.

use askama::Template;
use axum::Extension;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use stadtkarte_core::client::{self, Peer};
use stadtkarte_core::db::DbError;
use stadtkarte_core::i18n::Lang;
use stadtkarte_core::page::{Page, PageContext, html};
use stadtkarte_core::{Problem, audit, formguard, ratelimit};

use crate::Pt;
use crate::model::{
    self, CreatorConfirmed, Invalid, NewPetition, NewSignature, SignError, SignatureConfirmed,
    Status,
};
use crate::notify;
use crate::place::{Districts, Place, PlaceError};
use crate::public::{city_bbox, district_names, script, stylesheet};

/// The name of the petitions' forms for their stamp.
pub(crate) const FORM: &str = "petitionen";

/// The routes of this module (and of the comments).
pub(crate) fn routes() -> Router<Pt> {
    Router::new()
        .route("/petitionen/neu", get(new_form).post(new_submit))
        .route("/petitionen/datenschutz", get(privacy_notice))
        .route("/petitionen/{id}/unterschreiben", axum::routing::post(sign))
        .route(
            "/petitionen/unterschrift/{token}",
            get(signature_page).post(signature_confirm),
        )
        .route(
            "/petitionen/bestaetigen/{token}",
            get(creator_page).post(creator_confirm),
        )
        .merge(crate::comments::routes())
}

/// A message at a field.
#[derive(Debug, Clone)]
pub(crate) struct FieldError {
    /// The field's name (`feld-{field}` is its id).
    pub field: &'static str,
    /// The message.
    pub message: String,
}

fn errors_of(problems: &[Invalid], lang: Lang) -> Vec<FieldError> {
    problems
        .iter()
        .map(|p| FieldError {
            field: p.field(),
            message: lang.tr(p.key()).to_owned(),
        })
        .collect()
}

fn no_store(mut response: Response, status: StatusCode) -> Response {
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(5));
    }
    response
}

/// A page with a message, links, and perhaps one button (a POST to `action`).
#[derive(Template)]
#[template(path = "hinweis.html")]
struct Notice {
    page: Page,
    paragraphs: Vec<String>,
    action: String,
    button: String,
    links: Vec<(String, String)>,
}

fn notice(
    pt: &Pt,
    ctx: &PageContext,
    status: StatusCode,
    title_key: &str,
    paragraphs: Vec<String>,
    form: Option<(String, &str)>,
    links: Vec<(String, String)>,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let (action, button) = form.map_or((String::new(), String::new()), |(a, b)| {
        (a, lang.tr(b).to_owned())
    });
    let page = ctx
        .page(&pt.app.config, lang.tr(title_key).to_owned())
        .crumb(
            lang.tr("petitions.title"),
            format!("/petitionen?lang={lang}"),
        );
    Ok(no_store(
        html(&Notice {
            page,
            paragraphs,
            action,
            button,
            links,
        })?,
        status,
    ))
}

fn petition_link(lang: Lang, id: i64) -> (String, String) {
    (
        format!("/petitionen/{id}?lang={lang}"),
        lang.tr("petitions.confirm.to_petition").to_owned(),
    )
}

fn list_link(lang: Lang) -> (String, String) {
    (
        format!("/petitionen?lang={lang}"),
        lang.tr("petitions.confirm.to_list").to_owned(),
    )
}

/// The abuse checks of a citizen's form: decoy, fill time, the client's rate limit. Returns
/// the client's hash; `Ok(Err(problem))` for a refusal (shown with the form), `Err` when the
/// database is away.
async fn guard(
    pt: &Pt,
    peer: Option<Peer>,
    headers: &HeaderMap,
    stamp: &str,
    decoy: &str,
    min_secs: i64,
    count_client: bool,
) -> Result<Result<String, Problem>, Problem> {
    let config = &pt.app.config;
    let client = pt.app.pool.get().await.map_err(DbError::from)?;
    if let Err(p) = formguard::check(&*client, FORM, stamp, decoy, min_secs).await {
        return if p.status.is_client_error() {
            Ok(Err(p))
        } else {
            Err(p)
        };
    }
    let who = client::hash(&*client, peer, headers, &config.auth.trusted_proxies).await?;
    // Signatures count the client's recent signatures instead (no counter row to contend for).
    if !count_client {
        return Ok(Ok(who));
    }
    if let Err(p) = ratelimit::hit(
        &*client,
        &format!("petitions:client:{who}"),
        config.petitions.signatures_per_client_hour,
        3600,
    )
    .await
    {
        return if p.status.is_client_error() {
            Ok(Err(p))
        } else {
            Err(p)
        };
    }
    Ok(Ok(who))
}

// ---------------------------------------------------------------------------------------------
// Signing

/// The sign form as typed.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SignTyped {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub plz: String,
    #[serde(default)]
    pub stadtteil: String,
    #[serde(default)]
    pub sichtbarkeit: String,
    #[serde(default)]
    pub datenschutz: String,
    #[serde(default)]
    pub stamp: String,
    #[serde(default)]
    pub website: String,
    /// The sponsors' key (a sponsor's signature).
    #[serde(default)]
    pub unterstuetzen: String,
}

/// The sign form: on the petition's page, and alone when it comes back with messages.
#[derive(Debug, Clone)]
pub(crate) struct SignForm {
    /// The petition.
    pub id: i64,
    /// What was typed.
    pub typed: SignTyped,
    /// Messages at the fields.
    pub errors: Vec<FieldError>,
    /// The districts to choose from.
    pub districts: Vec<String>,
    /// A fresh stamp (or the one sent, when the database is away).
    pub stamp: String,
    /// A message above the form.
    pub message: String,
}

impl SignForm {
    /// An empty form (visibility preset to the most private choice).
    pub(crate) fn new(id: i64, districts: Vec<String>, stamp: String, sponsor_key: &str) -> Self {
        Self {
            id,
            typed: SignTyped {
                sichtbarkeit: "anonym".to_owned(),
                unterstuetzen: sponsor_key.to_owned(),
                ..SignTyped::default()
            },
            errors: Vec::new(),
            districts,
            stamp,
            message: String::new(),
        }
    }

    /// The message at `field`.
    pub(crate) fn error_at(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    /// Whether `field` has a message.
    pub(crate) fn has_error(&self, field: &str) -> bool {
        self.error_at(field).is_some()
    }

    /// Whether `value` is the chosen visibility.
    pub(crate) fn visibility_is(&self, value: &str) -> bool {
        self.typed.sichtbarkeit == value
    }
}

#[derive(Template)]
#[template(path = "unterschreiben.html")]
struct SignPage {
    page: Page,
    form: SignForm,
}

fn render_sign(
    pt: &Pt,
    ctx: &PageContext,
    status: StatusCode,
    title: Option<&str>,
    form: SignForm,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let heading = title.map_or_else(
        || lang.tr("petitions.sign.title").to_owned(),
        |t| ctx.lang.tr("petitions.sign.title_of").replace("{}", t),
    );
    let id = form.id;
    let page = ctx
        .page(&pt.app.config, heading)
        .crumb(
            lang.tr("petitions.title"),
            format!("/petitionen?lang={lang}"),
        )
        .crumb(
            lang.tr("petitions.sign.back"),
            format!("/petitionen/{id}?lang={lang}"),
        );
    Ok(no_store(html(&SignPage { page, form })?, status))
}

/// The sign form again with `message`, what was typed kept (the database away or a fault).
fn sign_unavailable(
    pt: &Pt,
    ctx: &PageContext,
    id: i64,
    typed: SignTyped,
    problem: &Problem,
) -> Result<Response, Problem> {
    tracing::warn!(status = %problem.status, detail = %problem.detail, "a signature could not be stored");
    let districts = if typed.stadtteil.trim().is_empty() {
        Vec::new()
    } else {
        vec![typed.stadtteil.trim().to_owned()]
    };
    let form = SignForm {
        id,
        stamp: typed.stamp.clone(),
        typed,
        errors: Vec::new(),
        districts,
        message: ctx.lang.tr("petitions.sign.unavailable").to_owned(),
    };
    render_sign(pt, ctx, problem.status, None, form)
}

fn conflict(detail: &str) -> Problem {
    Problem::new(StatusCode::CONFLICT, "Konflikt / conflict", detail)
}

/// `POST /petitionen/{id}/unterschreiben`: stores an unconfirmed signature and queues the mail
/// with its confirmation link (one transaction), then asks the signer to check the mail.
#[allow(clippy::too_many_lines)]
async fn sign(
    State(pt): State<Pt>,
    ctx: PageContext,
    Path(id): Path<String>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    Form(typed): Form<SignTyped>,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let config = &pt.app.config.petitions;
    let not_found = || Problem::not_found(format!("There is no petition {id:?}."));
    let Ok(number) = id.parse::<i64>() else {
        return Err(not_found());
    };
    // The petition and the districts; the database away: the form again (503).
    let loaded = async {
        let client = pt.app.pool.get().await.map_err(DbError::from)?;
        let p = model::signing_target(&*client, number).await?;
        let names = district_names(&*client, &pt.app.config).await?;
        Ok::<_, DbError>((p, names))
    }
    .await;
    let (p, names) = match loaded {
        Ok(x) => x,
        Err(e) => return sign_unavailable(&pt, &ctx, number, typed, &Problem::from(e)),
    };
    let Some(p) = p else {
        return Err(not_found());
    };
    let key = typed.unterstuetzen.trim();
    let sponsoring = p.status == Status::Sponsoring && !key.is_empty() && key == p.sponsor_key;
    if !p.status.is_public() && !sponsoring {
        return Err(not_found());
    }
    if p.status != Status::Open && !sponsoring {
        return Err(conflict(lang.tr("petitions.sign.not_open")));
    }
    let title = p.title.clone();
    let form_again =
        |typed: SignTyped, errors: Vec<FieldError>, stamp: String, message: String| SignForm {
            id: number,
            typed,
            errors,
            districts: names.clone(),
            stamp,
            message,
        };
    // Abuse: decoy, fill time, the client's rate limit.
    let who = match guard(
        &pt,
        peer.map(|p| p.0),
        &headers,
        &typed.stamp,
        &typed.website,
        config.min_fill_secs,
        false,
    )
    .await
    {
        Ok(Ok(who)) => who,
        Ok(Err(refused)) if refused.status == StatusCode::TOO_MANY_REQUESTS => return Err(refused),
        Ok(Err(_)) => {
            let stamp = fresh_stamp(&pt).await.unwrap_or_default();
            let message = lang.tr("petitions.sign.refused_automated").to_owned();
            let form = form_again(typed, Vec::new(), stamp, message);
            return render_sign(&pt, &ctx, StatusCode::BAD_REQUEST, Some(&title), form);
        }
        Err(p) => return sign_unavailable(&pt, &ctx, number, typed, &p),
    };
    let new = NewSignature {
        name: typed.name.clone(),
        email: typed.email.clone(),
        postcode: typed.plz.clone(),
        district: typed.stadtteil.trim().to_owned(),
        visibility: typed.sichtbarkeit.clone(),
        consent: !typed.datenschutz.is_empty(),
        lang: lang.code(),
        sponsor_key: typed.unterstuetzen.clone(),
    };
    let mut problems = model::check_signature(&new);
    let chosen = typed.stadtteil.trim();
    if !chosen.is_empty() && !names.iter().any(|n| n == chosen) {
        problems.push(Invalid::District);
    }
    if !problems.is_empty() {
        let stamp = fresh_stamp(&pt)
            .await
            .unwrap_or_else(|| typed.stamp.clone());
        let form = form_again(typed, errors_of(&problems, lang), stamp, String::new());
        return render_sign(
            &pt,
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&title),
            form,
        );
    }
    let domain = model::canonical_email(&typed.email)
        .map(|(_, d)| d)
        .unwrap_or_default();
    // The district: the chosen one, else the one of a city postcode; either makes a resident.
    let stored = async {
        let mut client = pt.app.pool.get().await.map_err(DbError::from)?;
        let postcode = typed.plz.trim();
        let city_postcode = config.postcodes.iter().any(|c| c == postcode);
        let (district, resident) = if chosen.is_empty() {
            let district = if city_postcode {
                match Districts::of(&*client, &pt.app.config).await? {
                    Some(d) => d.of_postcode(&*client, postcode).await?,
                    None => None,
                }
            } else {
                None
            };
            (district, city_postcode)
        } else {
            (Some(chosen.to_owned()), true)
        };
        let tx = client
            .transaction()
            .await
            .map_err(DbError::query("signing a petition"))?;
        let too_many = || Problem::too_many_requests(lang.tr("petitions.sign.too_many"), 600);
        // A client's signatures are counted in the table (no counter row is locked); the count
        // and the signature's statements go out together (a refusal rolls the signature back).
        let (by_client, signed) = futures_util::future::try_join(
            async {
                model::recent_by_client(&tx, &who, config.signatures_per_client_hour)
                    .await
                    .map_err(Problem::from)
            },
            async {
                model::sign(
                    &tx,
                    config,
                    number,
                    &new,
                    district.as_deref(),
                    resident,
                    &who,
                )
                .await
                .map_err(Problem::from)
            },
        )
        .await?;
        if by_client >= i64::from(config.signatures_per_client_hour) {
            tracing::info!(by_client, "signature refused: rate limit of the client");
            return Err(too_many());
        }
        let signed = match signed {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        // The confirmation mail and the domain's limit go out together. The limit counts in this
        // transaction: a refusal (rolled back) does not count. A large provider's domain is
        // shared by many at once: its counter is spread; its row stays locked until the commit.
        let domain_key = format!("petitions:domain:{}", ratelimit::email_part(&domain));
        let (mailed, by_domain) = futures_util::future::join(
            notify::signature_confirm(
                &tx,
                &pt.app,
                typed.email.trim(),
                lang,
                &signed.title,
                &signed.token,
            ),
            ratelimit::hit_shared(&tx, &domain_key, config.signatures_per_domain_hour, 3600),
        )
        .await;
        mailed?;
        let domain_full = match by_domain {
            Ok(()) => false,
            Err(p) if p.status == StatusCode::TOO_MANY_REQUESTS => true,
            Err(p) => return Err(p),
        };
        if domain_full {
            tracing::info!("signature refused: rate limit of the address's domain");
            return Err(too_many());
        }
        tx.commit()
            .await
            .map_err(DbError::query("signing a petition"))?;
        Ok::<_, Problem>(Ok(()))
    }
    .await;
    match stored {
        Ok(Ok(())) => notice(
            &pt,
            &ctx,
            StatusCode::OK,
            "petitions.sign.sent_title",
            vec![
                lang.tr("petitions.sign.sent").replace("{}", &title),
                lang.tr("petitions.sign.sent_hours")
                    .replace("{}", &config.confirm_hours.to_string()),
            ],
            None,
            vec![petition_link(lang, number)],
        ),
        Ok(Err(SignError::Unknown)) => Err(not_found()),
        Ok(Err(SignError::NotOpen(_))) => Err(conflict(lang.tr("petitions.sign.not_open"))),
        Ok(Err(SignError::Duplicate)) => {
            let stamp = fresh_stamp(&pt).await.unwrap_or_default();
            let errors = vec![FieldError {
                field: "email",
                message: lang.tr("petitions.sign.duplicate").to_owned(),
            }];
            let form = form_again(
                typed,
                errors,
                stamp,
                lang.tr("petitions.sign.duplicate").to_owned(),
            );
            render_sign(&pt, &ctx, StatusCode::CONFLICT, Some(&title), form)
        }
        Ok(Err(SignError::Invalid(problems))) => {
            let stamp = fresh_stamp(&pt).await.unwrap_or_default();
            let form = form_again(typed, errors_of(&problems, lang), stamp, String::new());
            render_sign(
                &pt,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&title),
                form,
            )
        }
        Err(p) if p.status == StatusCode::TOO_MANY_REQUESTS => Err(p),
        Err(p) => sign_unavailable(&pt, &ctx, number, typed, &p),
    }
}

/// A fresh stamp, if the database answers.
async fn fresh_stamp(pt: &Pt) -> Option<String> {
    let client = pt.app.pool.get().await.ok()?;
    formguard::token(&*client, FORM).await.ok()
}

/// `GET /petitionen/unterschrift/{token}`: the page the confirmation mail's link opens — the
/// petition's title and a button. Changes nothing.
async fn signature_page(
    State(pt): State<Pt>,
    ctx: PageContext,
    Path(token): Path<String>,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let client = pt.app.pool.get().await.map_err(DbError::from)?;
    let found = model::signature_by_token(&*client, &pt.app.config.petitions, &token).await?;
    match found {
        None => unknown_signature(&pt, &ctx),
        Some((id, _, true)) => already_counted(&pt, &ctx, id),
        Some((id, title, false)) => notice(
            &pt,
            &ctx,
            StatusCode::OK,
            "petitions.confirm.signature_title",
            vec![
                lang.tr("petitions.confirm.signature_intro")
                    .replace("{}", &title),
            ],
            Some((
                format!("/petitionen/unterschrift/{token}?lang={lang}"),
                "petitions.confirm.signature_button",
            )),
            vec![petition_link(lang, id)],
        ),
    }
}

fn unknown_signature(pt: &Pt, ctx: &PageContext) -> Result<Response, Problem> {
    let lang = ctx.lang;
    notice(
        pt,
        ctx,
        StatusCode::NOT_FOUND,
        "petitions.confirm.unknown_title",
        vec![
            lang.tr("petitions.confirm.unknown").to_owned(),
            lang.tr("petitions.confirm.sign_again")
                .replace("{}", &pt.app.config.petitions.confirm_hours.to_string()),
        ],
        None,
        vec![list_link(lang)],
    )
}

fn already_counted(pt: &Pt, ctx: &PageContext, id: i64) -> Result<Response, Problem> {
    let lang = ctx.lang;
    notice(
        pt,
        ctx,
        StatusCode::OK,
        "petitions.confirm.already_title",
        vec![lang.tr("petitions.confirm.already").to_owned()],
        None,
        vec![petition_link(lang, id)],
    )
}

/// `POST /petitionen/unterschrift/{token}`: confirms the signature — it counts from now on —
/// and, in the same transaction, moves a petition whose sponsors are complete to moderation
/// and marks the threshold when it is reached (telling the creator).
async fn signature_confirm(
    State(pt): State<Pt>,
    ctx: PageContext,
    Path(token): Path<String>,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let config = &pt.app.config.petitions;
    let mut client = pt.app.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("confirming a signature"))?;
    let outcome = model::confirm_signature(&tx, config, &token).await?;
    if let SignatureConfirmed::Counted {
        petition_id,
        sponsor,
    } = outcome
    {
        if sponsor && model::sponsors_complete(&tx, config, petition_id).await? {
            notify::creator_news(&tx, &pt.app, petition_id, "moderation", "").await?;
        }
        if model::threshold_check(&tx, petition_id).await?.is_some() {
            notify::creator_news(&tx, &pt.app, petition_id, "threshold", "").await?;
        }
    }
    tx.commit()
        .await
        .map_err(DbError::query("confirming a signature"))?;
    match outcome {
        SignatureConfirmed::Counted { petition_id, .. } => notice(
            &pt,
            &ctx,
            StatusCode::OK,
            "petitions.confirm.thanks_title",
            vec![lang.tr("petitions.confirm.thanks").to_owned()],
            None,
            vec![petition_link(lang, petition_id)],
        ),
        SignatureConfirmed::Already(id) => already_counted(&pt, &ctx, id),
        SignatureConfirmed::Closed(id) => notice(
            &pt,
            &ctx,
            StatusCode::CONFLICT,
            "petitions.confirm.closed_title",
            vec![lang.tr("petitions.confirm.closed").to_owned()],
            None,
            vec![petition_link(lang, id)],
        ),
        SignatureConfirmed::Unknown => unknown_signature(&pt, &ctx),
    }
}

// ---------------------------------------------------------------------------------------------
// Starting a petition

/// The new-petition form as typed.
#[derive(Debug, Clone, Default)]
struct NewTyped {
    titel: String,
    text: String,
    thema: String,
    ort: String,
    geometrie: String,
    stadtteile: Vec<String>,
    name: String,
    email: String,
    name_oeffentlich: String,
    datenschutz: String,
    stamp: String,
    website: String,
}

impl NewTyped {
    fn of(pairs: Vec<(String, String)>) -> Self {
        let mut t = Self::default();
        for (k, v) in pairs {
            match k.as_str() {
                "titel" => t.titel = v,
                "text" => t.text = v,
                "thema" => t.thema = v,
                "ort" => t.ort = v,
                "geometrie" => t.geometrie = v,
                "stadtteile" => t.stadtteile.push(v),
                "name" => t.name = v,
                "email" => t.email = v,
                "name_oeffentlich" => t.name_oeffentlich = v,
                "datenschutz" => t.datenschutz = v,
                "stamp" => t.stamp = v,
                formguard::HONEYPOT => t.website = v,
                _ => {}
            }
        }
        t
    }

    /// `punkt`, `flaeche` or `stadtteile` (the default: the way without JavaScript).
    fn place_choice(&self) -> &str {
        match self.ort.as_str() {
            "punkt" => "punkt",
            "flaeche" => "flaeche",
            _ => "stadtteile",
        }
    }
}

#[derive(Template)]
#[template(path = "neu.html")]
struct NewPage {
    page: Page,
    typed: NewTyped,
    errors: Vec<FieldError>,
    message: String,
    stamp: String,
    topics: Vec<(String, String)>,
    districts: Vec<String>,
    bbox: String,
    title_max: usize,
    body_max: usize,
}

impl NewPage {
    fn error_at(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    fn has_error(&self, field: &str) -> bool {
        self.error_at(field).is_some()
    }

    fn district_chosen(&self, name: &str) -> bool {
        self.typed.stadtteile.iter().any(|d| d == name)
    }
}

async fn render_new(
    pt: &Pt,
    ctx: &PageContext,
    status: StatusCode,
    typed: NewTyped,
    errors: Vec<FieldError>,
    message: String,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let config = &pt.app.config;
    // Topics, districts and a fresh stamp need the database; without it the form still shows
    // what was typed.
    let (topics, districts, stamp, bbox) = match pt.app.pool.get().await {
        Ok(client) => (
            model::topics(&*client)
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|t| (t.code, lang.pick(t.name_de, t.name_en)))
                .collect(),
            district_names(&*client, config).await.unwrap_or_default(),
            formguard::token(&*client, FORM)
                .await
                .unwrap_or_else(|_| typed.stamp.clone()),
            city_bbox(&*client, config).await,
        ),
        Err(_) => (
            if typed.thema.is_empty() {
                Vec::new()
            } else {
                vec![(typed.thema.clone(), typed.thema.clone())]
            },
            typed.stadtteile.clone(),
            typed.stamp.clone(),
            String::new(),
        ),
    };
    let page = ctx
        .page(config, lang.tr("petitions.new.title").to_owned())
        .crumb(
            lang.tr("petitions.title"),
            format!("/petitionen?lang={lang}"),
        )
        .stylesheet(stylesheet())
        .script(script());
    Ok(no_store(
        html(&NewPage {
            page,
            typed,
            errors,
            message,
            stamp,
            topics,
            districts,
            bbox,
            title_max: model::TITLE_MAX,
            body_max: model::BODY_MAX,
        })?,
        status,
    ))
}

/// `GET /petitionen/neu`: the form to start a petition.
async fn new_form(State(pt): State<Pt>, ctx: PageContext) -> Result<Response, Problem> {
    render_new(
        &pt,
        &ctx,
        StatusCode::OK,
        NewTyped::default(),
        Vec::new(),
        String::new(),
    )
    .await
}

/// `POST /petitionen/neu`: checks the petition and its place and stores it (pending) with the
/// creator's confirmation mail and an audit entry, in one transaction.
#[allow(clippy::too_many_lines)]
async fn new_submit(
    State(pt): State<Pt>,
    ctx: PageContext,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let config = &pt.app.config.petitions;
    let typed = NewTyped::of(pairs);
    let unavailable = |typed: NewTyped, p: &Problem| {
        tracing::warn!(status = %p.status, detail = %p.detail, "a petition could not be stored");
        let status = p.status;
        let message = lang.tr("petitions.new.unavailable").to_owned();
        render_new(&pt, &ctx, status, typed, Vec::new(), message)
    };
    match guard(
        &pt,
        peer.map(|p| p.0),
        &headers,
        &typed.stamp,
        &typed.website,
        config.min_fill_secs,
        true,
    )
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(refused)) if refused.status == StatusCode::TOO_MANY_REQUESTS => return Err(refused),
        Ok(Err(_)) => {
            let message = lang.tr("petitions.new.refused_automated").to_owned();
            return render_new(
                &pt,
                &ctx,
                StatusCode::BAD_REQUEST,
                typed,
                Vec::new(),
                message,
            )
            .await;
        }
        Err(p) => return unavailable(typed, &p).await,
    }
    let new = NewPetition {
        title: typed.titel.clone(),
        body: typed.text.clone(),
        topic: typed.thema.trim().to_owned(),
        name: typed.name.clone(),
        email: typed.email.clone(),
        name_public: !typed.name_oeffentlich.is_empty(),
        consent: !typed.datenschutz.is_empty(),
        lang: lang.code(),
    };
    let mut problems = model::check_petition(&new);
    let place = match typed.place_choice() {
        "stadtteile" => Ok(Place::Districts(
            typed
                .stadtteile
                .iter()
                .filter(|d| !d.trim().is_empty())
                .cloned()
                .collect(),
        )),
        _ if typed.geometrie.trim().is_empty() => Err(PlaceError::Missing),
        _ => serde_json::from_str::<Value>(typed.geometrie.trim())
            .map(Place::Drawn)
            .map_err(|_| PlaceError::Malformed),
    };
    // The topic and the place need the database.
    let checked = async {
        let client = pt.app.pool.get().await.map_err(DbError::from)?;
        let topics = model::topics(&*client).await?;
        let topic_known = topics.iter().any(|t| t.code == new.topic);
        let districts = Districts::of(&*client, &pt.app.config).await?;
        let checked = match (place, &districts) {
            (Err(e), _) => Err(e),
            (Ok(_), None) => Err(PlaceError::NoDistricts),
            (Ok(place), Some(d)) => d.check(&*client, &place).await?,
        };
        Ok::<_, DbError>((topic_known, districts, checked))
    }
    .await;
    let (topic_known, districts, checked) = match checked {
        Ok(x) => x,
        Err(e) => return unavailable(typed, &Problem::from(e)).await,
    };
    if !topic_known {
        problems.push(Invalid::Topic);
    }
    let checked = match checked {
        Ok(c) => Some(c),
        Err(e) => {
            problems.push(Invalid::Place(e));
            None
        }
    };
    let (Some(checked), Some(districts), true) = (checked, districts, problems.is_empty()) else {
        return render_new(
            &pt,
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            typed,
            errors_of(&problems, lang),
            String::new(),
        )
        .await;
    };
    let stored = async {
        let mut client = pt.app.pool.get().await.map_err(DbError::from)?;
        ratelimit::hit(
            &*client,
            &format!("petitions:new:{}", ratelimit::email_part(&typed.email)),
            config.petitions_per_email_day,
            86_400,
        )
        .await?;
        let tx = client
            .transaction()
            .await
            .map_err(DbError::query("storing a petition"))?;
        let geometry_sql = districts.geometry_sql("$7", "$8");
        let (id, token) = model::create(&tx, config, &new, &checked, &geometry_sql).await?;
        notify::creator_confirm(
            &tx,
            &pt.app,
            typed.email.trim(),
            lang,
            new.title.trim(),
            &token,
        )
        .await?;
        let subject = format!("petition:{id}");
        audit::append(
            &*tx,
            &audit::Entry {
                actor: "bürger",
                action: "petition.create",
                subject: &subject,
                details: json!({"topic": new.topic, "place_kind": checked.kind}),
                after: Some(json!({"status": "pending"})),
                ..audit::Entry::default()
            },
        )
        .await?;
        tx.commit()
            .await
            .map_err(DbError::query("storing a petition"))?;
        Ok::<_, Problem>(id)
    }
    .await;
    match stored {
        Ok(_) => notice(
            &pt,
            &ctx,
            StatusCode::OK,
            "petitions.new.sent_title",
            vec![
                lang.tr("petitions.new.sent")
                    .replace("{}", new.title.trim()),
                lang.tr("petitions.new.sent_hours")
                    .replace("{}", &config.confirm_hours.to_string()),
            ],
            None,
            vec![list_link(lang)],
        ),
        Err(p) if p.status == StatusCode::TOO_MANY_REQUESTS => Err(p),
        Err(p) => unavailable(typed, &p).await,
    }
}

/// `GET /petitionen/bestaetigen/{token}`: the page the creator's mail opens — a button.
/// Changes nothing.
async fn creator_page(
    State(pt): State<Pt>,
    ctx: PageContext,
    Path(token): Path<String>,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let client = pt.app.pool.get().await.map_err(DbError::from)?;
    match model::petition_by_creator_token(&*client, &pt.app.config.petitions, &token).await? {
        None => unknown_creator_token(&pt, &ctx),
        Some((_, title, Status::Pending)) => notice(
            &pt,
            &ctx,
            StatusCode::OK,
            "petitions.confirm.petition_title",
            vec![
                lang.tr("petitions.confirm.petition_intro")
                    .replace("{}", &title),
            ],
            Some((
                format!("/petitionen/bestaetigen/{token}?lang={lang}"),
                "petitions.confirm.petition_button",
            )),
            vec![list_link(lang)],
        ),
        Some((id, _, status)) => creator_already(&pt, &ctx, id, status),
    }
}

fn unknown_creator_token(pt: &Pt, ctx: &PageContext) -> Result<Response, Problem> {
    let lang = ctx.lang;
    notice(
        pt,
        ctx,
        StatusCode::NOT_FOUND,
        "petitions.confirm.unknown_title",
        vec![
            lang.tr("petitions.confirm.unknown").to_owned(),
            lang.tr("petitions.confirm.start_again")
                .replace("{}", &pt.app.config.petitions.confirm_hours.to_string()),
        ],
        None,
        vec![(
            format!("/petitionen/neu?lang={lang}"),
            lang.tr("petitions.list.start").to_owned(),
        )],
    )
}

fn creator_already(
    pt: &Pt,
    ctx: &PageContext,
    id: i64,
    status: Status,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let links = if status.is_public() {
        vec![petition_link(lang, id)]
    } else {
        vec![list_link(lang)]
    };
    notice(
        pt,
        ctx,
        StatusCode::OK,
        "petitions.confirm.already_title",
        vec![lang.tr("petitions.confirm.petition_already").to_owned()],
        None,
        links,
    )
}

/// `POST /petitionen/bestaetigen/{token}`: confirms the creator's address; the petition goes
/// to its sponsors (the creator gets the link to share) or to moderation.
async fn creator_confirm(
    State(pt): State<Pt>,
    ctx: PageContext,
    Path(token): Path<String>,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let mut client = pt.app.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("confirming a petition"))?;
    let outcome = model::confirm_creator(&tx, &pt.app.config.petitions, &token).await?;
    let (id, next, sponsor_link) = match &outcome {
        CreatorConfirmed::Sponsoring { id, key } => (
            *id,
            "sponsoring",
            Some(format!(
                "{}/petitionen/{id}?unterstuetzen={key}",
                pt.app.config.base_url()
            )),
        ),
        CreatorConfirmed::Moderation(id) => (*id, "moderation", None),
        CreatorConfirmed::Already(id) => {
            drop(tx);
            let status = model::petition(&*client, *id)
                .await?
                .map_or(Status::Hidden, |p| p.status);
            return creator_already(&pt, &ctx, *id, status);
        }
        CreatorConfirmed::Unknown => return unknown_creator_token(&pt, &ctx),
    };
    notify::creator_news(
        &tx,
        &pt.app,
        id,
        next,
        sponsor_link.as_deref().unwrap_or_default(),
    )
    .await?;
    let subject = format!("petition:{id}");
    audit::append(
        &*tx,
        &audit::Entry {
            actor: "bürger",
            action: "petition.confirm",
            subject: &subject,
            before: Some(json!({"status": "pending"})),
            after: Some(json!({"status": next})),
            ..audit::Entry::default()
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(DbError::query("confirming a petition"))?;
    let mut paragraphs = vec![lang.tr("petitions.confirm.petition_done").to_owned()];
    match sponsor_link {
        Some(link) => {
            paragraphs.push(
                lang.tr("petitions.confirm.petition_sponsors")
                    .replace("{}", &pt.app.config.petitions.sponsors.to_string()),
            );
            paragraphs.push(link);
        }
        None => paragraphs.push(lang.tr("petitions.confirm.petition_moderation").to_owned()),
    }
    notice(
        &pt,
        &ctx,
        StatusCode::OK,
        "petitions.confirm.petition_done_title",
        paragraphs,
        None,
        vec![list_link(lang)],
    )
}

#[derive(Template)]
#[template(path = "datenschutz.html")]
struct PrivacyNotice {
    page: Page,
    anonymise_days: u32,
    confirm_hours: u32,
}

/// `GET /petitionen/datenschutz`: what is kept of signers and creators, who sees what, for how
/// long, and their rights.
async fn privacy_notice(State(pt): State<Pt>, ctx: PageContext) -> Result<Response, Problem> {
    let lang = ctx.lang;
    html(&PrivacyNotice {
        page: ctx
            .page(
                &pt.app.config,
                lang.tr("petitions.privacy.title").to_owned(),
            )
            .crumb(
                lang.tr("petitions.title"),
                format!("/petitionen?lang={lang}"),
            ),
        anonymise_days: pt.app.config.petitions.anonymise_after_days,
        confirm_hours: pt.app.config.petitions.confirm_hours,
    })
}
