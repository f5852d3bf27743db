//! The citizen's side: the report form in two steps (what and where; then the description,
//! the category's questions, photos and contact), which works without JavaScript (address or
//! district instead of the map) and is enhanced by the map script; "Schon gemeldet?" with a
//! "me too"; the confirmation; the answer to "is it fixed?"; stopping mail; the privacy notice.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use stadtkarte_core::client::{self, Peer};
use stadtkarte_core::db::DbError;
use stadtkarte_core::i18n::Lang;
use stadtkarte_core::page::{Page, PageContext, html};
use stadtkarte_core::{Problem, formguard, ratelimit};

use crate::Mm;
use crate::area::{self, Location, Nearby};
use crate::model::{self, Attribute, Category, Channel, Invalid, NewReport, SubmitError};
use crate::notify;

/// The name of the form for its stamp.
const FORM: &str = "maengel";

/// The map script of the form (from the map app's bundle).
fn script() -> String {
    stadtkarte_mapviewer::melden_script_url()
}

fn stylesheet() -> String {
    stadtkarte_mapviewer::melden_stylesheet_url()
}

/// What was typed, to show the form again.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Typed {
    #[serde(default)]
    kategorie: String,
    #[serde(default)]
    lat: String,
    #[serde(default)]
    lon: String,
    #[serde(default)]
    adresse: String,
    #[serde(default)]
    stadtteil: String,
    #[serde(default)]
    beschreibung: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    updates: String,
    #[serde(default)]
    datenschutz: String,
    #[serde(default)]
    stamp: String,
    #[serde(default)]
    website: String,
    /// Answers: code and value.
    #[serde(skip)]
    attributes: Vec<(String, String)>,
}

impl Typed {
    fn answer(&self, code: &str) -> &str {
        self.attributes
            .iter()
            .find(|(c, _)| c == code)
            .map_or("", |(_, v)| v.as_str())
    }

    fn chosen(&self, code: &str, key: &str) -> bool {
        self.attributes.iter().any(|(c, v)| c == code && v == key)
    }
}

/// One group of categories, for the radio buttons.
struct Group {
    name: String,
    categories: Vec<Category>,
}

fn grouped(categories: &[Category]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for c in categories {
        match groups.iter_mut().find(|g| g.name == c.group) {
            Some(g) => g.categories.push(c.clone()),
            None => groups.push(Group {
                name: c.group.clone(),
                categories: vec![c.clone()],
            }),
        }
    }
    groups
}

/// A message at a field.
#[derive(Debug, Clone)]
struct FieldError {
    field: String,
    message: String,
}

#[derive(Template)]
#[template(path = "melden.html")]
struct FormPage {
    page: Page,
    step: u8,
    groups: Vec<Group>,
    districts: Vec<String>,
    category: Option<Category>,
    place_label: String,
    nearby: Vec<Nearby>,
    typed: Typed,
    errors: Vec<FieldError>,
    message: String,
    stamp: String,
    release_note: String,
    max_mb: usize,
    bbox: String,
}

impl FormPage {
    fn error_at(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    fn has_error(&self, field: &str) -> bool {
        self.error_at(field).is_some()
    }

    fn attribute_field(a: &Attribute) -> String {
        format!("attribute-{}", a.code)
    }

    fn status_label(&self, status: &str) -> &'static str {
        model::Status::parse(status).map_or("", |s| s.label(self.page.lang))
    }
}

fn release_note(category: &Category, lang: Lang) -> String {
    let key = match category.release {
        model::Release::Review => "maengel.form.release_review",
        model::Release::Delay => "maengel.form.release_delay",
        model::Release::Immediate => "maengel.form.release_immediate",
    };
    stadtkarte_core::i18n::fill(lang, key, &[&category.release_minutes])
}

#[allow(clippy::too_many_arguments)]
async fn render(
    mm: &Mm,
    ctx: &PageContext,
    status: StatusCode,
    step: u8,
    typed: Typed,
    errors: Vec<FieldError>,
    message: String,
    nearby: Vec<Nearby>,
    place_label: String,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let categories = mm.categories().await?;
    let category = categories
        .iter()
        .find(|c| c.code == typed.kategorie)
        .cloned();
    // The districts and a fresh stamp need the database; without it the form still shows.
    let (districts, stamp, bbox) = match mm.app.pool.get().await {
        Ok(client) => (
            area::districts(&*client, &mm.app.config.maengel)
                .await
                .unwrap_or_default(),
            formguard::token(&*client, FORM).await.unwrap_or_default(),
            area::bbox(&*client, &mm.app.config.maengel).await,
        ),
        Err(_) => (Vec::new(), typed.stamp.clone(), String::new()),
    };
    let title = if step == 1 {
        ctx.lang.tr("maengel.form.title")
    } else {
        ctx.lang.tr("maengel.form.title2")
    };
    let page = ctx
        .page(&mm.app.config, title.to_owned())
        .crumb(ctx.lang.tr("maengel.title"), "/maengel")
        .stylesheet(stylesheet())
        .script(script());
    let form = FormPage {
        page,
        step,
        groups: grouped(&categories),
        districts,
        release_note: category
            .as_ref()
            .map(|c| release_note(c, lang))
            .unwrap_or_default(),
        category,
        place_label,
        nearby,
        typed,
        errors,
        message,
        stamp,
        max_mb: mm.app.config.maengel.photo_max_bytes / (1024 * 1024),
        bbox,
    };
    let mut response = html(&form)?;
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-store".parse().map_err(Problem::internal)?,
    );
    Ok(response)
}

fn errors_of(problems: &[Invalid], lang: Lang) -> Vec<FieldError> {
    problems
        .iter()
        .map(|p| FieldError {
            field: p.field(),
            message: p.message(lang),
        })
        .collect()
}

/// `GET /maengel/melden`: step 1 (category and place); with both given and valid, step 2.
pub async fn form(
    State(mm): State<Mm>,
    ctx: PageContext,
    Query(typed): Query<Typed>,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let location = Location::from_fields(&typed.lat, &typed.lon, &typed.adresse, &typed.stadtteil);
    let asked = !typed.kategorie.is_empty() || location != Location::None;
    if !asked {
        return render(
            &mm,
            &ctx,
            StatusCode::OK,
            1,
            typed,
            vec![],
            String::new(),
            vec![],
            String::new(),
        )
        .await;
    }
    let mut problems = Vec::new();
    let categories = mm.categories().await?;
    if typed.kategorie.is_empty() {
        problems.push(Invalid::NoCategory);
    } else if !categories.iter().any(|c| c.code == typed.kategorie) {
        problems.push(Invalid::UnknownCategory(typed.kategorie.clone()));
    }
    let client = mm.app.pool.get().await.map_err(DbError::from)?;
    let placed = match area::place(&*client, &mm.app.config.maengel, &location).await {
        Ok(p) => Some(p),
        Err(area::PlaceError::Invalid(i)) => {
            problems.push(i);
            None
        }
        Err(area::PlaceError::Db(e)) => return Err(e.into()),
    };
    let Some(placed) = placed.filter(|_| problems.is_empty()) else {
        return render(
            &mm,
            &ctx,
            StatusCode::BAD_REQUEST,
            1,
            typed,
            errors_of(&problems, lang),
            String::new(),
            vec![],
            String::new(),
        )
        .await;
    };
    let nearby = area::nearby(
        &*client,
        &mm.app.config.maengel,
        &typed.kategorie,
        placed.lon,
        placed.lat,
    )
    .await?;
    drop(client);
    let label = place_label(&placed, lang);
    let mut typed = typed;
    typed.lat = format!("{:.6}", placed.lat);
    typed.lon = format!("{:.6}", placed.lon);
    "ja".clone_into(&mut typed.updates);
    render(
        &mm,
        &ctx,
        StatusCode::OK,
        2,
        typed,
        vec![],
        String::new(),
        nearby,
        label,
    )
    .await
}

fn place_label(placed: &area::Placed, lang: Lang) -> String {
    match (&placed.address, &placed.district) {
        (Some(a), Some(d)) => format!("{a} ({d})"),
        (Some(a), None) => a.clone(),
        (None, Some(d)) => stadtkarte_core::i18n::fill(lang, "maengel.form.in_district", &[d]),
        (None, None) => format!("{:.5}, {:.5}", placed.lat, placed.lon),
    }
}

/// A file of the form, read up to the limit.
struct Upload {
    name: String,
    bytes: Bytes,
    too_large: Option<usize>,
}

async fn read_form(
    mut multipart: Multipart,
    max_photo: usize,
) -> Result<(Typed, Vec<Upload>), Problem> {
    let mut typed = Typed::default();
    let mut uploads = Vec::new();
    let refused = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::too_large(
                "Die Meldung ist zu groß (höchstens drei Fotos zu je 20 MB). / The report is too large.",
            )
        } else {
            Problem::bad_request(format!("The form could not be read: {}", e.body_text()))
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(refused)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "fotos" || name == "media" || name == "media[]" {
            let file = field.file_name().unwrap_or_default().to_owned();
            let mut buf = BytesMut::new();
            let mut total = 0_usize;
            while let Some(chunk) = field.chunk().await.map_err(refused)? {
                total += chunk.len();
                if total <= max_photo {
                    buf.extend_from_slice(&chunk);
                }
            }
            if file.is_empty() && total == 0 {
                continue; // no file chosen
            }
            uploads.push(Upload {
                name: if file.is_empty() {
                    "foto".to_owned()
                } else {
                    file
                },
                too_large: (total > max_photo).then_some(total),
                bytes: buf.freeze(),
            });
            continue;
        }
        let mut value = String::new();
        while let Some(chunk) = field.chunk().await.map_err(refused)? {
            if value.len() + chunk.len() > 64 * 1024 {
                return Err(Problem::bad_request("A form field is longer than 64 KiB."));
            }
            value.push_str(&String::from_utf8_lossy(&chunk));
        }
        if let Some(code) = name
            .strip_prefix("attribute[")
            .map(|rest| rest.trim_end_matches("[]").trim_end_matches(']'))
        {
            typed.attributes.push((code.to_owned(), value));
            continue;
        }
        match name.as_str() {
            "kategorie" => typed.kategorie = value,
            "lat" => typed.lat = value,
            "lon" => typed.lon = value,
            "adresse" => typed.adresse = value,
            "stadtteil" => typed.stadtteil = value,
            "beschreibung" => typed.beschreibung = value,
            "email" => typed.email = value,
            "name" => typed.name = value,
            "updates" => typed.updates = value,
            "datenschutz" => typed.datenschutz = value,
            "stamp" => typed.stamp = value,
            formguard::HONEYPOT => typed.website = value,
            _ => {}
        }
    }
    Ok((typed, uploads))
}

/// `POST /maengel/melden` (multipart): stores the report; 303 to the confirmation. Whatever
/// is wrong comes back at once, with what was typed (photos must be chosen again).
pub async fn submit(
    State(mm): State<Mm>,
    ctx: PageContext,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let config = &mm.app.config.maengel;
    // Refused before a byte of the body is read when it announces more than the limit.
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|n| n > crate::form_body_limit(&mm.app)) {
        return Err(Problem::too_large(
            lang.tr("maengel.form.too_large").to_owned(),
        ));
    }
    let (typed, uploads) = read_form(multipart, config.photo_max_bytes).await?;
    let place = |typed: &Typed| format!("{}, {}", typed.lat.trim(), typed.lon.trim());
    // Abuse: decoy, fill time, rate limits. The database may be away: then the form comes
    // back with what was typed and a 503.
    let guard = async {
        let client = mm.app.pool.get().await.map_err(DbError::from)?;
        if let Err(p) = formguard::check(
            &*client,
            FORM,
            &typed.stamp,
            &typed.website,
            config.min_fill_secs,
        )
        .await
        {
            // A refusal is shown as such; the database away is not one.
            return if p.status.is_client_error() {
                Ok(Some(p))
            } else {
                Err(p)
            };
        }
        let who = client::hash(
            &*client,
            peer.map(|p| p.0),
            &headers,
            &mm.app.config.auth.trusted_proxies,
        )
        .await?;
        ratelimit::hit(
            &*client,
            &format!("maengel:client:{who}"),
            config.reports_per_client_hour,
            3600,
        )
        .await?;
        if !typed.email.trim().is_empty() {
            ratelimit::hit(
                &*client,
                &format!("maengel:email:{}", ratelimit::email_part(&typed.email)),
                config.reports_per_email_day,
                86_400,
            )
            .await?;
        }
        Ok::<_, Problem>(None)
    }
    .await;
    match guard {
        Ok(None) => {}
        Ok(Some(_refused)) => {
            let label = place(&typed);
            let message = lang.tr("maengel.form.refused_automated").to_owned();
            return render(
                &mm,
                &ctx,
                StatusCode::BAD_REQUEST,
                2,
                typed,
                vec![],
                message,
                vec![],
                label,
            )
            .await;
        }
        Err(p) if p.status == StatusCode::TOO_MANY_REQUESTS => return Err(p),
        Err(p) => {
            tracing::warn!(status = %p.status, detail = %p.detail, "a report could not be checked");
            let label = place(&typed);
            let message = lang.tr("maengel.form.unavailable").to_owned();
            // What was typed is kept either way; a database away is a 503, a fault stays a 500
            // (and is logged above).
            let status = p.status;
            return render(&mm, &ctx, status, 2, typed, vec![], message, vec![], label).await;
        }
    }
    let mut problems = Vec::new();
    if typed.datenschutz.is_empty() {
        problems.push(Invalid::PrivacyNotAccepted);
    }
    let mut photos = Vec::new();
    if uploads.len() > model::MAX_PHOTOS {
        problems.push(Invalid::TooManyPhotos(uploads.len()));
    } else {
        for upload in uploads {
            if let Some(bytes) = upload.too_large {
                problems.push(Invalid::Photo {
                    file: upload.name,
                    error: crate::photo::PhotoError::TooLarge {
                        bytes,
                        max: config.photo_max_bytes,
                    },
                });
                continue;
            }
            match mm.workers.process(upload.bytes, mm.limits()).await {
                Ok(p) => photos.push(p),
                Err(error) => problems.push(Invalid::Photo {
                    file: upload.name,
                    error,
                }),
            }
        }
    }
    let report = NewReport {
        category: typed.kategorie.clone(),
        description: typed.beschreibung.clone(),
        location: Location::from_fields(&typed.lat, &typed.lon, &typed.adresse, &typed.stadtteil),
        email: Some(typed.email.clone()),
        name: Some(typed.name.clone()),
        phone: None,
        wants_updates: !typed.updates.is_empty(),
        attributes: typed.attributes.clone(),
        media_urls: Vec::new(),
        channel: Channel::Web,
        lang,
        photos,
        category_as_read: mm
            .categories()
            .await
            .ok()
            .and_then(|all| all.into_iter().find(|c| c.code == typed.kategorie.trim())),
    };
    if !problems.is_empty() {
        // Also the report's own checks, so that every mistake shows at once.
        let mut rest = model::validate_only(&mm.app, &report)
            .await
            .unwrap_or_default();
        problems.append(&mut rest);
        let label = place(&typed);
        return render(
            &mm,
            &ctx,
            StatusCode::BAD_REQUEST,
            2,
            typed,
            errors_of(&problems, lang),
            lang.tr("maengel.form.photos_again").to_owned(),
            vec![],
            label,
        )
        .await;
    }
    match model::submit(&mm.app, report).await {
        Ok(created) => Ok((
            StatusCode::SEE_OTHER,
            [(
                header::LOCATION,
                format!("/maengel/{}/eingegangen?lang={}", created.id, lang.code()),
            )],
        )
            .into_response()),
        Err(SubmitError::Invalid(problems)) => {
            let label = place(&typed);
            let message = if problems
                .iter()
                .any(|p| matches!(p, Invalid::Photo { .. } | Invalid::TooManyPhotos(_)))
            {
                String::new()
            } else {
                lang.tr("maengel.form.photos_again").to_owned()
            };
            render(
                &mm,
                &ctx,
                StatusCode::BAD_REQUEST,
                2,
                typed,
                errors_of(&problems, lang),
                message,
                vec![],
                label,
            )
            .await
        }
        Err(SubmitError::Server(p)) => {
            tracing::warn!(status = %p.status, detail = %p.detail, "a report could not be stored");
            let label = place(&typed);
            // What was typed is kept either way; a database away is a 503, a fault stays a 500
            // (and is logged above).
            let status = p.status;
            render(
                &mm,
                &ctx,
                status,
                2,
                typed,
                vec![],
                lang.tr("maengel.form.unavailable").to_owned(),
                vec![],
                label,
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "eingegangen.html")]
struct Received {
    page: Page,
    id: i64,
    tracking: String,
    category: String,
    place: String,
    mail: bool,
    release_note: String,
}

/// `GET /maengel/{id}/eingegangen`: the confirmation with the number and the tracking link.
pub async fn received(
    State(mm): State<Mm>,
    ctx: PageContext,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    let client = mm.app.pool.get().await.map_err(DbError::from)?;
    let row = client
        .query_opt(
            "SELECT r.category, coalesce(r.address, r.district, ''), r.reporter_email IS NOT NULL
             FROM maengel.reports r WHERE r.id = $1 AND NOT r.hidden",
            &[&id],
        )
        .await
        .map_err(|e| Problem::from(DbError::query("reading a report")(e)))?
        .ok_or_else(|| Problem::not_found(format!("There is no report {id}.")))?;
    let code: String = row.get(0);
    let category = model::category(&*client, &code)
        .await?
        .ok_or_else(|| Problem::not_found("unknown category"))?;
    let tracking = format!("{}/maengel/{id}", mm.app.config.base_url());
    let page = ctx
        .page(
            &mm.app.config,
            ctx.lang.tr("maengel.received.title").to_owned(),
        )
        .crumb(ctx.lang.tr("maengel.title"), "/maengel");
    let mut response = html(&Received {
        release_note: release_note(&category, ctx.lang),
        category: category.name(ctx.lang).to_owned(),
        page,
        id,
        tracking,
        place: row.get(1),
        mail: row.get(2),
    })?;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-store".parse().map_err(Problem::internal)?,
    );
    Ok(response)
}

/// `?q=` of the address search.
#[derive(Debug, Deserialize)]
pub struct AddressQuery {
    #[serde(default)]
    q: String,
}

/// `GET /maengel/adressen?q=Schloß`: the city's addresses for the search (JSON).
pub async fn addresses(
    State(mm): State<Mm>,
    Query(q): Query<AddressQuery>,
) -> Result<Response, Problem> {
    let client = mm.app.pool.get().await.map_err(DbError::from)?;
    let found = area::search(&*client, &mm.app.config.maengel, &q.q, 10).await?;
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(found),
    )
        .into_response())
}

/// The place of a pin, for the map script.
#[derive(Debug, Deserialize)]
pub struct NearbyQuery {
    #[serde(default)]
    kategorie: String,
    #[serde(default)]
    lat: String,
    #[serde(default)]
    lon: String,
}

/// `GET /maengel/in-der-naehe?kategorie=&lat=&lon=`: whether the point is inside the city, its
/// district and nearest address, and the open reports of the category nearby (JSON).
pub async fn nearby(
    State(mm): State<Mm>,
    ctx: PageContext,
    Query(q): Query<NearbyQuery>,
) -> Result<Response, Problem> {
    let location = Location::from_fields(&q.lat, &q.lon, "", "");
    let client = mm.app.pool.get().await.map_err(DbError::from)?;
    let placed = match area::place(&*client, &mm.app.config.maengel, &location).await {
        Ok(p) => p,
        Err(area::PlaceError::Invalid(i)) => {
            return Ok(axum::Json(serde_json::json!({
                "inside": false,
                "message": i.message(ctx.lang),
            }))
            .into_response());
        }
        Err(area::PlaceError::Db(e)) => return Err(e.into()),
    };
    let reports = if q.kategorie.is_empty() {
        Vec::new()
    } else {
        area::nearby(
            &*client,
            &mm.app.config.maengel,
            &q.kategorie,
            placed.lon,
            placed.lat,
        )
        .await?
    };
    Ok(axum::Json(serde_json::json!({
        "inside": true,
        "district": placed.district,
        "address": placed.address,
        "label": place_label(&placed, ctx.lang),
        "reports": reports,
    }))
    .into_response())
}

/// The "me too" form.
#[derive(Debug, Deserialize)]
pub struct SupportForm {
    #[serde(default)]
    stamp: String,
    #[serde(default)]
    website: String,
}

/// `POST /maengel/{id}/unterstuetzen`: counts one supporter (once per client and day) and
/// returns to the report's page.
pub async fn support(
    State(mm): State<Mm>,
    ctx: PageContext,
    Path(id): Path<i64>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    Form(form): Form<SupportForm>,
) -> Result<Response, Problem> {
    let client = mm.app.pool.get().await.map_err(DbError::from)?;
    formguard::check(&*client, FORM, &form.stamp, &form.website, 0).await?;
    let who = client::hash(
        &*client,
        peer.map(|p| p.0),
        &headers,
        &mm.app.config.auth.trusted_proxies,
    )
    .await?;
    let once = ratelimit::hit(&*client, &format!("maengel:support:{id}:{who}"), 1, 86_400).await;
    let result = if once.is_ok() {
        match model::support(&*client, id).await? {
            Some(_) => "unterstuetzt",
            None => "geschlossen",
        }
    } else {
        "schon"
    };
    Ok((
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            format!("/maengel/{id}?{result}=1&lang={}", ctx.lang.code()),
        )],
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "rueckmeldung.html")]
struct Feedback {
    page: Page,
    id: i64,
    action: String,
    state: &'static str,
    category: String,
}

async fn report_by_secret(
    mm: &Mm,
    id: i64,
    secret: &str,
) -> Result<(String, String, bool), Problem> {
    let client = mm.app.pool.get().await.map_err(DbError::from)?;
    let row = client
        .query_opt(
            "SELECT r.status, c.name_de, c.name_en, r.wants_updates FROM maengel.reports r
             JOIN maengel.categories c ON c.code = r.category WHERE r.id = $1 AND r.secret = $2",
            &[&id, &secret],
        )
        .await
        .map_err(|e| Problem::from(DbError::query("reading a report")(e)))?
        .ok_or_else(|| {
            Problem::not_found(
                "Dieser Link ist ungültig oder abgelaufen. / This link is not valid (any more).",
            )
        })?;
    Ok((row.get(0), row.get(1), row.get(3)))
}

/// `GET /maengel/{id}/rueckmeldung/{secret}`: "is it fixed?" — a page with two buttons. The link
/// itself changes nothing (mail scanners follow links).
pub async fn feedback_form(
    State(mm): State<Mm>,
    ctx: PageContext,
    Path((id, secret)): Path<(i64, String)>,
) -> Result<Response, Problem> {
    let (status, category, _) = report_by_secret(&mm, id, &secret).await?;
    let state = if status == "erledigt" {
        "frage"
    } else {
        "offen"
    };
    html(&Feedback {
        page: ctx.page(
            &mm.app.config,
            ctx.lang.tr("maengel.feedback.title").to_owned(),
        ),
        id,
        action: format!("/maengel/{id}/rueckmeldung/{secret}"),
        state,
        category,
    })
}

/// The answer.
#[derive(Debug, Deserialize)]
pub struct FeedbackForm {
    #[serde(default)]
    behoben: String,
}

/// `POST /maengel/{id}/rueckmeldung/{secret}`: "yes" thanks; "no" reopens the report (public
/// history entry, the department is told).
pub async fn feedback(
    State(mm): State<Mm>,
    ctx: PageContext,
    Path((id, secret)): Path<(i64, String)>,
    Form(form): Form<FeedbackForm>,
) -> Result<Response, Problem> {
    let (status, category, _) = report_by_secret(&mm, id, &secret).await?;
    let mut state = "danke";
    if form.behoben == "nein" && status == "erledigt" {
        let mut client = mm.app.pool.get().await.map_err(DbError::from)?;
        let tx = client
            .transaction()
            .await
            .map_err(DbError::query("reopening a report"))?;
        tx.execute(
            "UPDATE maengel.reports SET status = 'eingegangen', closed_at = NULL, updated_at = now(),
                 status_note = $2 WHERE id = $1 AND status = 'erledigt'",
            &[&id, &ctx.lang.tr("maengel.feedback.reopened_note")],
        )
        .await
        .map_err(|e| Problem::from(DbError::query("reopening a report")(e)))?;
        tx.execute(
            "INSERT INTO maengel.events (report_id, kind, status, public, text)
             VALUES ($1, 'reopened', 'eingegangen', true, $2)",
            &[&id, &ctx.lang.tr("maengel.feedback.reopened_note")],
        )
        .await
        .map_err(|e| Problem::from(DbError::query("reopening a report")(e)))?;
        if let Some(cat) = tx
            .query_opt("SELECT category FROM maengel.reports WHERE id = $1", &[&id])
            .await
            .map_err(|e| Problem::from(DbError::query("reopening a report")(e)))?
        {
            let code: String = cat.get(0);
            if let Some(c) = model::category(&*tx, &code).await? {
                notify::department_reopened(&*tx, &mm.app, &c, id).await?;
            }
        }
        tx.commit()
            .await
            .map_err(DbError::query("reopening a report"))?;
        state = "wieder_offen";
    }
    html(&Feedback {
        page: ctx.page(
            &mm.app.config,
            ctx.lang.tr("maengel.feedback.title").to_owned(),
        ),
        id,
        action: String::new(),
        state,
        category,
    })
}

#[derive(Template)]
#[template(path = "abmelden.html")]
struct Unsubscribe {
    page: Page,
    id: i64,
    action: String,
    done: &'static str,
    subscribed: bool,
}

/// `GET /maengel/{id}/abmelden/{secret}`: stop mail, or delete the address now.
pub async fn unsubscribe_form(
    State(mm): State<Mm>,
    ctx: PageContext,
    Path((id, secret)): Path<(i64, String)>,
) -> Result<Response, Problem> {
    let (_, _, subscribed) = report_by_secret(&mm, id, &secret).await?;
    html(&Unsubscribe {
        page: ctx.page(
            &mm.app.config,
            ctx.lang.tr("maengel.unsubscribe.title").to_owned(),
        ),
        id,
        action: format!("/maengel/{id}/abmelden/{secret}"),
        done: "",
        subscribed,
    })
}

/// What to do.
#[derive(Debug, Deserialize)]
pub struct UnsubscribeForm {
    #[serde(default)]
    aktion: String,
}

/// `POST /maengel/{id}/abmelden/{secret}`: `aktion=abmelden` stops mail; `aktion=loeschen`
/// deletes the e-mail address, name and phone of the report at once.
pub async fn unsubscribe(
    State(mm): State<Mm>,
    ctx: PageContext,
    Path((id, secret)): Path<(i64, String)>,
    Form(form): Form<UnsubscribeForm>,
) -> Result<Response, Problem> {
    report_by_secret(&mm, id, &secret).await?;
    let client = mm.app.pool.get().await.map_err(DbError::from)?;
    let done = if form.aktion == "loeschen" {
        client
            .execute(
                "UPDATE maengel.reports SET reporter_email = NULL, reporter_name = NULL,
                     reporter_phone = NULL, wants_updates = false, personal_deleted_at = now()
                 WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(|e| Problem::from(DbError::query("deleting contact data")(e)))?;
        "geloescht"
    } else {
        client
            .execute(
                "UPDATE maengel.reports SET wants_updates = false WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(|e| Problem::from(DbError::query("stopping mail")(e)))?;
        "abgemeldet"
    };
    html(&Unsubscribe {
        page: ctx.page(
            &mm.app.config,
            ctx.lang.tr("maengel.unsubscribe.title").to_owned(),
        ),
        id,
        action: String::new(),
        done,
        subscribed: false,
    })
}

#[derive(Template)]
#[template(path = "datenschutz.html")]
struct PrivacyNotice {
    page: Page,
    retention_days: u32,
}

/// `GET /maengel/datenschutz`: what the Mängelmelder keeps, why, for how long, and the
/// reporter's rights.
pub async fn privacy_notice(State(mm): State<Mm>, ctx: PageContext) -> Result<Response, Problem> {
    html(&PrivacyNotice {
        page: ctx
            .page(
                &mm.app.config,
                ctx.lang.tr("maengel.privacy.title").to_owned(),
            )
            .crumb(ctx.lang.tr("maengel.title"), "/maengel"),
        retention_days: mm.app.config.maengel.retention_days,
    })
}
