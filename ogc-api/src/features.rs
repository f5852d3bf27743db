//! `/collections/{id}/items` and `/collections/{id}/items/{featureId}`: GeoJSON built by PostGIS
//! and streamed row by row (memory stays flat whatever `limit` is; a client that goes away
//! cancels the query), HTML with a small map, CSV.

use std::convert::Infallible;
use std::fmt::Write as _;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use stadtkarte_core::catalog::quote_ident;
use stadtkarte_core::http::base_url;
use stadtkarte_core::i18n;
use stadtkarte_core::load::Work;
use stadtkarte_core::negotiate::{Offer, negotiate};
use stadtkarte_core::page::{self, PageContext};
use stadtkarte_core::tokio_postgres::{self, NoTls, Row};
use stadtkarte_core::{AppState, Problem};

use askama::Template as _;

use crate::html;
use crate::paging::{self, Direction};
use crate::params::{self, DateTime, ItemsRequest, TimeBound};
use stadtkarte_core::cql2;
use stadtkarte_core::crs::Crs;
use stadtkarte_core::query::{Sql, Value as Param};
use stadtkarte_core::schema::{self, CollectionSchema, PropType};

/// GeoJSON.
pub const GEOJSON: Offer = Offer {
    key: "json",
    media_type: "application/geo+json",
};
/// CSV.
pub const CSV: Offer = Offer {
    key: "csv",
    media_type: "text/csv",
};
/// What items and item endpoints offer.
pub const OFFERS: [Offer; 3] = [GEOJSON, Offer::HTML, CSV];

fn media(offer: Offer) -> &'static str {
    match offer.key {
        "html" => "text/html; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        _ => "application/geo+json",
    }
}

/// Loads a collection or answers 404.
pub async fn collection(state: &AppState, id: &str) -> Result<CollectionSchema, Problem> {
    let client = state.read_db().await?;
    schema::load(&**client, id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("There is no collection {id:?}.")))
}

/// The JSON object of a feature's properties, as SQL (chunks of 50 keep below PostgreSQL's
/// 100-argument limit).
fn properties_sql(names: &[String]) -> String {
    if names.is_empty() {
        return "'{}'::json".to_owned();
    }
    let chunks: Vec<String> = names
        .chunks(50)
        .map(|chunk| {
            let pairs: Vec<String> = chunk
                .iter()
                .map(|n| format!("'{}', {}", n.replace('\'', "''"), quote_ident(n)))
                .collect();
            format!("jsonb_build_object({})", pairs.join(", "))
        })
        .collect();
    if chunks.len() == 1 {
        chunks[0].replacen("jsonb_build_object", "json_build_object", 1)
    } else {
        format!("({})::json", chunks.join(" || "))
    }
}

fn selected(schema: &CollectionSchema, request: Option<&ItemsRequest>) -> Vec<String> {
    match request.and_then(|r| r.properties.as_ref()) {
        Some(chosen) => chosen.clone(),
        None => schema.properties.iter().map(|p| p.name.clone()).collect(),
    }
}

/// The select list for a format: always (payload…, key) where key is the JSON sort key.
fn select_list(
    schema: &CollectionSchema,
    crs: Crs,
    format: Offer,
    names: &[String],
    key_sql: &str,
) -> String {
    let storage = schema.collection.storage_srid;
    let geom = schema.geom();
    let projected = crs.project_sql(&geom, storage);
    let props = properties_sql(names);
    let id = schema.id();
    match format.key {
        "html" => format!(
            "{props}::text AS f_props, {id}::text AS f_id, ST_AsSVG(g.m, 0, 2) AS f_svg, ST_XMin(g.m) AS f_x1, ST_YMin(g.m) AS f_y1,
             ST_XMax(g.m) AS f_x2, ST_YMax(g.m) AS f_y2, {key_sql} AS f_key
             FROM {table} CROSS JOIN LATERAL (SELECT ST_Transform({geom}, 3857) AS m) g",
            table = schema.collection.table_sql()
        ),
        "csv" => format!(
            "{props}::text AS f_props, {id}::text AS f_id, ST_AsText({projected}, {dec}) AS f_wkt,
             CASE WHEN GeometryType({geom}) = 'POINT' THEN ST_X({projected}) END AS f_x,
             CASE WHEN GeometryType({geom}) = 'POINT' THEN ST_Y({projected}) END AS f_y, {key_sql} AS f_key
             FROM {table}",
            dec = crs.decimals(),
            table = schema.collection.table_sql()
        ),
        _ => format!(
            "json_build_object('type', 'Feature', 'id', {id}, 'geometry', ST_AsGeoJSON({projected}, {dec})::json,
                               'properties', {props})::text AS f_feature, {key_sql} AS f_key
             FROM {table}",
            dec = crs.decimals(),
            table = schema.collection.table_sql()
        ),
    }
}

/// The conditions of the result set (without the cursor), and the same with the `bbox` test
/// coarsened to the index's box overlap (`&&`, a superset of the exact `ST_Intersects`), when
/// there is a `bbox`: counting with it is cheap.
fn conditions(
    schema: &CollectionSchema,
    request: &ItemsRequest,
    sql: &mut Sql,
) -> Result<(Vec<String>, Option<Vec<String>>), Problem> {
    let mut out = Vec::new();
    let mut coarse_bbox = None;
    let geom = schema.geom();
    let storage = schema.collection.storage_srid;
    if let Some(bbox) = &request.bbox {
        let mut boxes = Vec::new();
        let mut coarse = Vec::new();
        for b in &bbox.boxes {
            // Parameters only where they are used: an empty collection has no extent to clip to.
            if bbox.crs.srid != storage && schema.collection.extent_crs84.is_none() {
                boxes.push("FALSE".to_owned());
                coarse.push("FALSE".to_owned());
                continue;
            }
            let [x1, y1, x2, y2] = b.map(|v| sql.param(Param::Float(v)));
            let envelope = format!("ST_MakeEnvelope({x1}, {y1}, {x2}, {y2}, {})", bbox.crs.srid);
            let area = if bbox.crs.srid == storage {
                envelope
            } else if let Some([w, s, e, n]) = schema.collection.extent_crs84 {
                // Clip to (a generous margin around) the data before transforming, so that a
                // world-wide box never has to be projected into UTM; densify for curvature.
                let ext = format!("ST_Expand(ST_MakeEnvelope({w}, {s}, {e}, {n}, 4326), 0.5)");
                format!(
                    "ST_Transform(ST_Segmentize(ST_Intersection(ST_Transform({envelope}, 4326), {ext}), 0.01), {storage})"
                )
            } else {
                boxes.push("FALSE".to_owned());
                coarse.push("FALSE".to_owned());
                continue;
            };
            boxes.push(format!("ST_Intersects({geom}, {area})"));
            coarse.push(format!("{geom} && {area}"));
        }
        out.push(format!("({})", boxes.join(" OR ")));
        coarse_bbox = Some((out.len() - 1, format!("({})", coarse.join(" OR "))));
    }
    if let (Some(datetime), Some(temporal)) = (&request.datetime, schema.temporal()) {
        let col = quote_ident(&temporal.name);
        let date_col = temporal.kind == PropType::Date;
        let bound = |b: &TimeBound, upper: bool, sql: &mut Sql| -> Option<String> {
            match b {
                TimeBound::Open => None,
                TimeBound::Date(d) => {
                    let p = sql.param(Param::Text(d.clone()));
                    Some(match (date_col, upper) {
                        (true, false) => format!("{col} >= ({p})::date"),
                        (true, true) => format!("{col} <= ({p})::date"),
                        (false, false) => {
                            format!("{col} >= (({p})::date::timestamp AT TIME ZONE 'UTC')")
                        }
                        (false, true) => {
                            format!("{col} < ((({p})::date + 1)::timestamp AT TIME ZONE 'UTC')")
                        }
                    })
                }
                TimeBound::Timestamp(t) => {
                    let p = sql.param(Param::Text(t.clone()));
                    let op = if upper { "<=" } else { ">=" };
                    Some(if date_col {
                        format!("{col} {op} ((({p})::timestamptz AT TIME ZONE 'UTC')::date)")
                    } else {
                        format!("{col} {op} ({p})::timestamptz")
                    })
                }
            }
        };
        match datetime {
            DateTime::Instant(b) => {
                let lower = bound(b, false, sql);
                let upper = bound(b, true, sql);
                out.extend(lower);
                out.extend(upper);
            }
            DateTime::Interval(a, b) => {
                let lower = bound(a, false, sql);
                let upper = bound(b, true, sql);
                out.extend(lower);
                out.extend(upper);
                out.push(format!("{col} IS NOT NULL"));
            }
        }
    }
    for (name, kind, value) in &request.equals {
        let col = quote_ident(name);
        let p = match kind {
            PropType::Integer => sql.param(Param::Int(value.parse().unwrap_or_default())),
            PropType::Number => sql.param(Param::Float(value.parse().unwrap_or_default())),
            PropType::Boolean => sql.param(Param::Bool(value == "true")),
            PropType::Date => format!("({})::date", sql.param(Param::Text(value.clone()))),
            PropType::DateTime => {
                format!("({})::timestamptz", sql.param(Param::Text(value.clone())))
            }
            _ => sql.param(Param::Text(value.clone())),
        };
        out.push(format!("{col} = {p}"));
    }
    if let Some((expr, filter_crs)) = &request.filter {
        let t = cql2::translate(expr, schema, *filter_crs, sql)
            .map_err(|e| Problem::bad_request(format!("filter: {e}")))?;
        out.push(t.condition);
    }
    let coarse = coarse_bbox.map(|(at, test)| {
        let mut coarse = out.clone();
        coarse[at] = test;
        coarse
    });
    Ok((out, coarse))
}

fn where_sql(conds: &[String]) -> String {
    if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    }
}

fn encode_query(pairs: &[(String, String)]) -> String {
    fn enc(s: &str) -> String {
        let mut out = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(char::from(b));
            } else {
                let _ = write!(out, "%{b:02X}");
            }
        }
        out
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

struct LinkSet {
    base_url: String,
    canonical: Vec<(String, String)>,
    cursor: Option<String>,
}

impl LinkSet {
    fn href(&self, format: &str, cursor: Option<&str>) -> String {
        let mut pairs = self.canonical.clone();
        if let Some(c) = cursor {
            pairs.push(("cursor".to_owned(), c.to_owned()));
        }
        pairs.push(("f".to_owned(), format.to_owned()));
        format!("{}?{}", self.base_url, encode_query(&pairs))
    }
}

/// `GET /collections/{id}/items`
pub async fn items(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    cx: PageContext,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    respond(state, id, query, &cx, headers).await
}

/// `POST /collections/{id}/items` with a CQL2 JSON filter as the body (what OWSLib sends for
/// `cql=`); the other parameters stay in the query string.
pub async fn items_post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(mut query): Query<Vec<(String, String)>>,
    cx: PageContext,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    if query
        .iter()
        .any(|(k, _)| k == "filter" || k == "filter-lang")
    {
        return Err(Problem::bad_request(
            "with POST the filter is the body (CQL2 JSON); do not repeat filter or filter-lang in the query",
        ));
    }
    let filter = std::str::from_utf8(&body)
        .map_err(|_| Problem::bad_request("the body must be CQL2 JSON in UTF-8"))?;
    query.push(("filter".to_owned(), filter.to_owned()));
    query.push(("filter-lang".to_owned(), "cql2-json".to_owned()));
    respond(state, id, query, &cx, headers).await
}

async fn respond(
    state: AppState,
    id: String,
    query: Vec<(String, String)>,
    cx: &PageContext,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let schema = collection(&state, &id).await?;
    let limits = &state.config.features;
    let request = params::parse(&query, &schema, limits)?;
    let format = negotiate(request.format.as_deref(), &headers, &OFFERS)?;
    // The page size is not part of the result set: a `next` link followed with another `limit`
    // (as the OGC test suite does) continues where the page ended.
    let defining: Vec<(String, String)> = request
        .canonical
        .iter()
        .filter(|(k, _)| k != "limit")
        .cloned()
        .collect();
    let fingerprint = paging::fingerprint(&id, &defining);
    let cursor = request
        .cursor
        .as_deref()
        .map(|c| paging::decode(c, &request.sort, schema.id_kind, &fingerprint))
        .transpose()?;

    let mut sql = Sql::default();
    let (base, coarse) = conditions(&schema, &request, &mut sql)?;
    let slot = state.load.admit(Work::Items).await?;
    let client = state.read_db().await?;
    // numberMatched is given on the first page only (later pages need not repeat it): counted
    // when the page is full, known without counting when it is not.
    let cap = limits.number_matched_cap;
    let counting = |conds: &[String]| {
        format!(
            "SELECT count(*) FROM (SELECT 1 FROM {}{} LIMIT {}) s",
            schema.collection.table_sql(),
            where_sql(conds),
            u64::from(cap) + 1
        )
    };
    let count = (cap > 0 && cursor.is_none()).then(|| Count {
        sql: counting(&base),
        coarse: coarse.as_deref().map(counting),
        params: sql.clone(),
        cap,
    });
    let direction = cursor.as_ref().map_or(Direction::After, |c| c.direction);
    let mut conds = base;
    if let Some(c) = &cursor {
        conds.push(paging::condition(
            c,
            &request.sort,
            &schema.id(),
            schema.id_kind,
            &mut sql,
        ));
    }
    let mut key_parts: Vec<String> = request.sort.iter().map(|k| quote_ident(&k.name)).collect();
    key_parts.push(schema.id());
    let key_sql = format!("json_build_array({})::text", key_parts.join(", "));
    let names = selected(&schema, Some(&request));
    let data_sql = format!(
        "SELECT {}{} ORDER BY {} LIMIT {}",
        select_list(&schema, request.crs, format, &names, &key_sql),
        where_sql(&conds),
        paging::order_by(&request.sort, &schema.id(), direction),
        u64::from(request.limit) + 1
    );
    let cancel = client.cancel_token();
    let rows = client
        .query_raw(&data_sql, sql.params.iter())
        .await
        .map_err(|e| query_error(&e))?;

    let links = LinkSet {
        base_url: format!(
            "{}/collections/{id}/items",
            base_url(&state.config, &headers)
        ),
        canonical: request.canonical.clone(),
        cursor: request.cursor.clone(),
    };
    let frame = (format == Offer::HTML).then(|| {
        let t = |key| cx.lang.tr(key);
        let title = &schema.collection.title;
        html::api_page(
            cx,
            &state.config,
            i18n::fill(cx.lang, "ogc.items.page_title", &[title]),
        )
        .crumb(t("ogc.crumb_collections"), "/collections")
        .crumb(title, links.base_url.trim_end_matches("/items"))
    });
    let page = Page {
        frame,
        schema,
        request,
        format,
        direction,
        came_with_cursor: cursor.is_some(),
        count,
        links,
        fingerprint,
        names,
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let finished = page.stream(&client, rows, &sender).await;
        if !finished {
            // The client went away: stop the database from producing the rest.
            let _ = cancel.cancel_query(NoTls).await;
            metrics::counter!("features_streams_cancelled_total").increment(1);
        }
        drop(client);
        drop(slot);
    });
    let body = Body::from_stream(futures_util::stream::unfold(receiver, |mut rx| async {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    }));
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media(format)),
    );
    if format.key != "html"
        && let Ok(v) = HeaderValue::from_str(&format!("<{}>", page_crs_uri(&query)))
    {
        response.headers_mut().insert("content-crs", v);
    }
    Ok(response)
}

fn page_crs_uri(query: &[(String, String)]) -> &'static str {
    query
        .iter()
        .find(|(k, _)| k == "crs")
        .and_then(|(_, v)| Crs::parse(v, "crs").ok())
        .map_or(stadtkarte_core::crs::CRS84.uri, |c| c.uri)
}

fn query_error(e: &tokio_postgres::Error) -> Problem {
    // Values are bound, checked and names come from the catalog, so a failing statement here
    // is either the database going away or a value the database still refuses (a number too
    // large for its column, say). The client gets our words, never the database's.
    if stadtkarte_core::db::connection_lost(e) {
        tracing::warn!(error = %e, "database connection lost during a feature query");
        return Problem::unavailable("The database connection was lost; please try again.");
    }
    if let Some(db) = e.as_db_error()
        && (db.code().code().starts_with("22") || db.code().code() == "XX000")
    {
        tracing::info!(
            sqlstate = db.code().code(),
            message = db.message(),
            "the database refused a value"
        );
        return Problem::bad_request(
            "a value of the request does not fit its property: check the numbers and dates of the property filters, bbox, datetime and filter",
        );
    }
    Problem::internal(e)
}

/// Bytes handed to the HTTP body at once: few large writes instead of one per feature.
const CHUNK: usize = 64 * 1024;

/// The response body being written, in chunks.
struct Out<'a> {
    sender: &'a tokio::sync::mpsc::Sender<Bytes>,
    buffer: Vec<u8>,
}

impl Out<'_> {
    /// Appends; false when the client went away.
    async fn write(&mut self, bytes: Bytes) -> bool {
        self.buffer.extend_from_slice(&bytes);
        self.buffer.len() < CHUNK || self.flush().await
    }

    async fn flush(&mut self) -> bool {
        if self.buffer.is_empty() {
            return true;
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK));
        self.sender.send(Bytes::from(chunk)).await.is_ok()
    }
}

/// How to count the result set, up to a cap.
struct Count {
    sql: String,
    /// The count with the `bbox` coarsened to box overlap: above the cap, the exact count is
    /// not made (it would be as well, or nearly; `numberMatched` is optional).
    coarse: Option<String>,
    params: Sql,
    cap: u32,
}

struct Page {
    /// The frame of the HTML page (its language, title and trail).
    frame: Option<page::Page>,
    schema: CollectionSchema,
    request: ItemsRequest,
    format: Offer,
    direction: Direction,
    came_with_cursor: bool,
    count: Option<Count>,
    links: LinkSet,
    fingerprint: String,
    names: Vec<String>,
}

impl Page {
    /// Writes the response; false when the client went away first.
    async fn stream(
        &self,
        client: &tokio_postgres::Client,
        rows: tokio_postgres::RowStream,
        sender: &tokio::sync::mpsc::Sender<Bytes>,
    ) -> bool {
        let mut out = Out {
            sender,
            buffer: Vec::with_capacity(CHUNK),
        };
        let limit = self.request.limit as usize;
        let mut rows = std::pin::pin!(rows);
        let mut buffered: Vec<Row> = Vec::new();
        let mut emitted = 0usize;
        let mut first_key: Option<String> = None;
        let mut last_key: Option<String> = None;
        let mut more = false;
        let key_index = |row: &Row| row.len() - 1;
        let reverse = self.direction == Direction::Before || self.format.key == "html";
        if !reverse && !out.write(self.header()).await {
            return false;
        }
        while let Some(row) = rows.next().await {
            let row = match row {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "reading features failed mid-stream");
                    return true;
                }
            };
            if emitted == limit {
                more = true;
                break;
            }
            let key: String = row.get(key_index(&row));
            if first_key.is_none() {
                first_key = Some(key.clone());
            }
            last_key = Some(key);
            emitted += 1;
            if reverse {
                buffered.push(row);
            } else if !out.write(self.row_bytes(&row, emitted == 1)).await {
                return false;
            }
        }
        let matched = self.number_matched(client, emitted, more).await;
        if reverse {
            if self.direction == Direction::Before {
                buffered.reverse();
                std::mem::swap(&mut first_key, &mut last_key);
            }
            if let Some(frame) = &self.frame {
                let html = self.html(
                    frame,
                    &buffered,
                    more,
                    matched,
                    first_key.as_deref(),
                    last_key.as_deref(),
                );
                return out.write(Bytes::from(html)).await && out.flush().await;
            }
            if !out.write(self.header()).await {
                return false;
            }
            for (i, row) in buffered.iter().enumerate() {
                if !out.write(self.row_bytes(row, i == 0)).await {
                    return false;
                }
            }
        }
        let (has_next, has_prev) = match self.direction {
            Direction::After => (more, self.came_with_cursor),
            Direction::Before => (self.came_with_cursor, more),
        };
        let next = has_next
            .then(|| {
                last_key
                    .as_deref()
                    .map(|k| self.cursor(k, Direction::After))
            })
            .flatten();
        let prev = has_prev
            .then(|| {
                first_key
                    .as_deref()
                    .map(|k| self.cursor(k, Direction::Before))
            })
            .flatten();
        out.write(self.trailer(emitted, matched, next.as_deref(), prev.as_deref()))
            .await
            && out.flush().await
    }

    /// `numberMatched`: the page itself when it is the first and not full, else a count up to
    /// the cap (none above it, or when counting fails: it is optional, a wrong one is not).
    async fn number_matched(
        &self,
        client: &tokio_postgres::Client,
        emitted: usize,
        more: bool,
    ) -> Option<i64> {
        let count = self.count.as_ref()?;
        if !more {
            return i64::try_from(emitted).ok();
        }
        // With a bbox, the index's box overlap counts cheaply first: the exact test of every
        // geometry is only worth it when the answer can be at most the cap.
        if let Some(coarse) = &count.coarse {
            match client.query_one(coarse, &count.params.refs()).await {
                Ok(row) if row.get::<_, i64>(0) > i64::from(count.cap) => return None,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "counting the matched features failed");
                    return None;
                }
            }
        }
        match client.query_one(&count.sql, &count.params.refs()).await {
            Ok(row) => {
                let n: i64 = row.get(0);
                (n <= i64::from(count.cap)).then_some(n)
            }
            Err(e) => {
                tracing::warn!(error = %e, "counting the matched features failed");
                None
            }
        }
    }

    fn cursor(&self, key: &str, direction: Direction) -> String {
        let keys: Value = serde_json::from_str(key).unwrap_or(Value::Null);
        paging::encode(&keys, direction, &self.fingerprint)
    }

    fn header(&self) -> Bytes {
        match self.format.key {
            "csv" => {
                let mut w = csv::Writer::from_writer(Vec::new());
                let mut head = vec!["id".to_owned()];
                head.extend(self.names.iter().cloned());
                let (x, y) = if self.request.crs.geographic {
                    ("lon", "lat")
                } else {
                    ("x", "y")
                };
                let (x, y) = if self.request.crs.lat_first {
                    (y, x)
                } else {
                    (x, y)
                };
                head.extend(["wkt".to_owned(), x.to_owned(), y.to_owned()]);
                let _ = w.write_record(&head);
                Bytes::from(w.into_inner().unwrap_or_default())
            }
            _ => Bytes::from_static(b"{\"type\":\"FeatureCollection\",\"features\":["),
        }
    }

    fn row_bytes(&self, row: &Row, first: bool) -> Bytes {
        #[allow(clippy::single_match_else)] // more formats will join
        match self.format.key {
            "csv" => {
                let props: Value =
                    serde_json::from_str(row.get::<_, &str>(0)).unwrap_or(Value::Null);
                let mut record = vec![row.get::<_, Option<String>>(1).unwrap_or_default()];
                for n in &self.names {
                    record.push(match props.get(n) {
                        None | Some(Value::Null) => String::new(),
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                    });
                }
                record.push(row.get::<_, Option<String>>(2).unwrap_or_default());
                let fmt = |v: Option<f64>| {
                    v.map(|v| {
                        format!(
                            "{v:.*}",
                            usize::try_from(self.request.crs.decimals()).unwrap_or(8)
                        )
                    })
                    .unwrap_or_default()
                };
                record.push(fmt(row.get(3)));
                record.push(fmt(row.get(4)));
                let mut w = csv::Writer::from_writer(Vec::new());
                let _ = w.write_record(&record);
                Bytes::from(w.into_inner().unwrap_or_default())
            }
            _ => {
                let text: &str = row.get(0);
                let mut b = Vec::with_capacity(text.len() + 1);
                if !first {
                    b.push(b',');
                }
                b.extend_from_slice(text.as_bytes());
                Bytes::from(b)
            }
        }
    }

    fn trailer(
        &self,
        returned: usize,
        matched: Option<i64>,
        next: Option<&str>,
        prev: Option<&str>,
    ) -> Bytes {
        if self.format.key == "csv" {
            return Bytes::new();
        }
        let mut links = vec![
            json!({"rel": "self", "type": "application/geo+json", "title": "Diese Seite als GeoJSON", "href": self.links.href("json", self.links.cursor.as_deref())}),
            json!({"rel": "alternate", "type": "text/html", "title": "Diese Seite als HTML", "href": self.links.href("html", self.links.cursor.as_deref())}),
            json!({"rel": "alternate", "type": "text/csv", "title": "Diese Seite als CSV", "href": self.links.href("csv", self.links.cursor.as_deref())}),
            json!({"rel": "collection", "type": "application/json", "title": self.schema.collection.title,
                   "href": self.links.base_url.trim_end_matches("/items")}),
        ];
        if let Some(c) = next {
            links.push(json!({"rel": "next", "type": "application/geo+json", "title": "Nächste Seite", "href": self.links.href("json", Some(c))}));
        }
        if let Some(c) = prev {
            links.push(json!({"rel": "prev", "type": "application/geo+json", "title": "Vorige Seite", "href": self.links.href("json", Some(c))}));
        }
        let mut tail = json!({
            "numberReturned": returned,
            "timeStamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "links": links,
        });
        if let Some(n) = matched {
            tail["numberMatched"] = json!(n);
        }
        let text = tail.to_string();
        // `{"numberReturned":…}` becomes `],"numberReturned":…}` closing the features array.
        Bytes::from(format!("],{}", &text[1..]))
    }

    fn html(
        &self,
        frame: &page::Page,
        rows: &[Row],
        more: bool,
        matched: Option<i64>,
        first_key: Option<&str>,
        last_key: Option<&str>,
    ) -> String {
        let c = &self.schema.collection;
        let collection_href = self.links.base_url.trim_end_matches("/items");
        let mut shapes = Vec::new();
        let mut bounds = Bounds::default();
        let mut table = Vec::with_capacity(rows.len());
        for row in rows {
            let props: Value = serde_json::from_str(row.get::<_, &str>(0)).unwrap_or(Value::Null);
            let id: Option<String> = row.get(1);
            let id = id.unwrap_or_default();
            table.push(html::ItemRow {
                href: format!("{collection_href}/items/{id}?f=html"),
                values: self
                    .names
                    .iter()
                    .map(|n| property_text(&props, n))
                    .collect(),
                id,
            });
            shapes.extend(bounds.add(row));
        }
        let map = bounds.map(shapes, frame.t1("ogc.items.map_label", rows.len()));
        let (has_next, has_prev) = match self.direction {
            Direction::After => (more, self.came_with_cursor),
            Direction::Before => (self.came_with_cursor, more),
        };
        let prev_href = first_key.filter(|_| has_prev).map(|k| {
            self.links
                .href("html", Some(&self.cursor(k, Direction::Before)))
        });
        let next_href = last_key.filter(|_| has_next).map(|k| {
            self.links
                .href("html", Some(&self.cursor(k, Direction::After)))
        });
        let page = html::Items {
            page: frame.clone(),
            returned: rows.len(),
            matched,
            license: c.license.clone(),
            attribution: c.attribution.clone(),
            map,
            prev_href,
            next_href,
            columns: self
                .names
                .iter()
                .map(|n| self.schema.label_of(n).to_owned())
                .collect(),
            rows: table,
            json_href: self.links.href("json", self.links.cursor.as_deref()),
            csv_href: self.links.href("csv", self.links.cursor.as_deref()),
        };
        page.render().unwrap_or_else(|e| {
            tracing::error!(error = %e, "rendering an items page failed");
            String::new()
        })
    }
}

/// The extent of the shapes of a page's features, in Web Mercator.
struct Bounds {
    x1: f64,
    y1: f64,
    x2: f64,
    y2: f64,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            x1: f64::INFINITY,
            y1: f64::INFINITY,
            x2: f64::NEG_INFINITY,
            y2: f64::NEG_INFINITY,
        }
    }
}

impl Bounds {
    /// The shapes of a row of the HTML select list (`f_svg`, then its bounds), which widen the
    /// extent.
    fn add(&mut self, row: &Row) -> Vec<html::Shape> {
        let (Some(svg), Some(x1), Some(y1), Some(x2), Some(y2)) = (
            row.get::<_, Option<String>>(2),
            row.get::<_, Option<f64>>(3),
            row.get::<_, Option<f64>>(4),
            row.get::<_, Option<f64>>(5),
            row.get::<_, Option<f64>>(6),
        ) else {
            return Vec::new();
        };
        self.x1 = self.x1.min(x1);
        self.y1 = self.y1.min(y1);
        self.x2 = self.x2.max(x2);
        self.y2 = self.y2.max(y2);
        html::shapes_of_svg(&svg)
    }

    /// The map of `shapes` over this extent with a margin; none without shapes.
    fn map(&self, shapes: Vec<html::Shape>, label: String) -> Option<html::FeatureMap> {
        if !self.x1.is_finite() || shapes.is_empty() {
            return None;
        }
        let pad = ((self.x2 - self.x1).max(self.y2 - self.y1) * 0.05).max(20.0);
        let (w, h) = (self.x2 - self.x1 + 2.0 * pad, self.y2 - self.y1 + 2.0 * pad);
        Some(html::FeatureMap {
            label,
            view_box: format!("{} {} {w} {h}", self.x1 - pad, -(self.y2 + pad)),
            height: (640.0 * h / w).round(),
            shapes,
        })
    }
}

/// A property's value as text: strings as they are, other JSON as JSON, nothing for null.
fn property_text(props: &Value, name: &str) -> String {
    match props.get(name) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(o) => o.to_string(),
    }
}

/// `GET /collections/{id}/items/{featureId}`
pub async fn item(
    State(state): State<AppState>,
    Path((id, feature_id)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    cx: PageContext,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let schema = collection(&state, &id).await?;
    for (k, _) in &query {
        if !["f", "crs", "properties", "lang"].contains(&k.as_str()) {
            return Err(Problem::bad_request(format!(
                "unknown query parameter {k:?}; allowed are f, crs, properties and lang"
            )));
        }
    }
    let get = |n: &str| query.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let format = negotiate(get("f"), &headers, &OFFERS)?;
    let crs = get("crs")
        .map(|v| Crs::parse(v, "crs"))
        .transpose()?
        .unwrap_or(stadtkarte_core::crs::CRS84);
    let not_found =
        || Problem::not_found(format!("Collection {id:?} has no feature {feature_id:?}."));
    let mut sql = Sql::default();
    let id_param = match schema.id_kind {
        PropType::Integer => sql.param(Param::Int(feature_id.parse().map_err(|_| not_found())?)),
        _ => sql.param(Param::Text(feature_id.clone())),
    };
    let names = selected(&schema, None);
    let base = format!("{}/collections/{id}", base_url(&state.config, &headers));
    let _slot = state.load.admit(Work::Items).await?;
    let client = state.read_db().await?;
    let row = client
        .query_opt(
            &format!(
                "SELECT {} WHERE {} = {id_param}",
                select_list(
                    &schema,
                    crs,
                    if format.key == "html" {
                        Offer::HTML
                    } else {
                        GEOJSON
                    },
                    &names,
                    "''"
                ),
                schema.id()
            ),
            &sql.refs(),
        )
        .await
        .map_err(|e| query_error(&e))?
        .ok_or_else(not_found)?;
    let self_href = format!("{base}/items/{feature_id}");
    if format.key == "html" {
        let props: Value = serde_json::from_str(row.get::<_, &str>(0)).unwrap_or(Value::Null);
        let rows = names
            .iter()
            .map(|n| html::Property {
                label: schema.label_of(n).to_owned(),
                value: property_text(&props, n),
            })
            .collect();
        let mut bounds = Bounds::default();
        let shapes = bounds.add(&row);
        let t = |key| cx.lang.tr(key);
        let title = &schema.collection.title;
        return page::html(&html::Item {
            page: html::api_page(
                &cx,
                &state.config,
                i18n::fill(cx.lang, "ogc.item.page_title", &[title, &feature_id]),
            )
            .crumb(t("ogc.crumb_collections"), "/collections")
            .crumb(title, &base)
            .crumb(t("ogc.crumb_items"), format!("{base}/items?f=html")),
            rows,
            map: bounds.map(shapes, cx.lang.tr("ogc.item.map_label").to_owned()),
            json_href: format!("{self_href}?f=json"),
            license: schema.collection.license.clone(),
            attribution: schema.collection.attribution.clone(),
        });
    }
    if format.key == "csv" {
        return Err(Problem::new(
            StatusCode::NOT_ACCEPTABLE,
            "Format nicht verfügbar / format not available",
            "a single feature is available as GeoJSON (f=json) and HTML (f=html)",
        ));
    }
    let mut feature: Value =
        serde_json::from_str(row.get::<_, &str>(0)).map_err(Problem::internal)?;
    feature["links"] = json!([
        {"rel": "self", "type": "application/geo+json", "href": format!("{self_href}?f=json")},
        {"rel": "alternate", "type": "text/html", "href": format!("{self_href}?f=html")},
        {"rel": "collection", "type": "application/json", "href": base},
    ]);
    let mut response = (
        [(header::CONTENT_TYPE, "application/geo+json")],
        feature.to_string(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>", crs.uri)) {
        response.headers_mut().insert("content-crs", v);
    }
    Ok(response)
}
