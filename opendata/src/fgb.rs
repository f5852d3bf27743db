//! FlatGeobuf (WGS 84) written in-process from the rows, with its packed Hilbert R-tree at every
//! size and with bounded memory.
//!
//! GDAL's writer holds the whole tree in memory (261 MB for 1,000,000 buildings), so the exports
//! once left the index out above a size. Here one pass over the rows encodes each feature as
//! the format's flatbuffer into an unnamed spill file beside the target and keeps only a
//! 48-byte [`Entry`] per feature (its box, where it lies in the spill file, its Hilbert value).
//! The entries are then sorted by the Hilbert value of their box's centre; the tree's inner
//! levels (a fifteenth of the leaves) are computed from the sorted boxes, and the file is
//! written as the specification orders it — magic bytes, header, the tree from the root down,
//! the features in the order of the leaves — under a temporary name, then renamed.
//!
//! The flatbuffer tables come from the `flatgeobuf` crate's generated types; its `FgbWriter` is
//! not used because it keeps three copies of the per-feature boxes (≈ 140 MB for a million).
//! The geometry arrives as little-endian WKB from PostGIS (`ST_Transform` to EPSG:4326 in SQL)
//! and is read here ([`Shape::from_wkb`]).
//!
//! Not here: curves (PostGIS's `CIRCULARSTRING` etc.; the importers store none), M values (left
//! out in SQL), and a lower processor priority for the preparer (the work is mostly PostGIS's).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use flatbuffers::{FlatBufferBuilder, WIPOffset};
use flatgeobuf::{
    Column, ColumnArgs, ColumnType, Crs, CrsArgs, Feature, FeatureArgs, Geometry, GeometryArgs,
    GeometryType, Header, HeaderArgs,
};
use futures_util::StreamExt as _;
use stadtkarte_core::catalog::quote_ident;
use stadtkarte_core::db::DbError;
use stadtkarte_core::schema::CollectionSchema;
use stadtkarte_core::tokio_postgres::{GenericClient, Row};
use tokio::io::AsyncWriteExt as _;

/// Children per node of the packed R-tree (the specification's and GDAL's default).
pub const NODE_SIZE: u16 = 16;

/// The format's first eight bytes: "fgb", version 3, "fgb", 0.
const MAGIC: [u8; 8] = *b"fgb\x03fgb\x00";

/// Why a FlatGeobuf could not be written (a fault of the server, logged).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FgbError {
    /// The query failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The cache folder is not writable.
    #[error("cannot write {0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// PostGIS sent a geometry this writer does not know.
    #[error("FlatGeobuf: feature {0}: {1}")]
    Geometry(u64, String),
}

/// How a column's values are selected and stored: PostgreSQL's type decides, so a `smallint`
/// stays a `Short` and a `real` a `Float`, as GDAL writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `int2`.
    Short,
    /// `int4`.
    Int,
    /// `int8`.
    Long,
    /// `float4`.
    Float,
    /// `float8`, `numeric` (as `float8`).
    Double,
    /// `bool`.
    Bool,
    /// Text (also `varchar`, `uuid`, …).
    Text,
    /// ISO 8601 text (`to_json` of a date or timestamp), stored as `DateTime`.
    DateTime,
    /// `json`, `jsonb` as text.
    Json,
}

impl Kind {
    /// The kind of PostgreSQL type `typname`; `None`: not written (geometry, arrays, …).
    fn of(typname: &str) -> Option<Self> {
        Some(match typname {
            "int2" => Self::Short,
            "int4" => Self::Int,
            "int8" => Self::Long,
            "float4" => Self::Float,
            "float8" | "numeric" => Self::Double,
            "bool" => Self::Bool,
            "text" | "varchar" | "bpchar" | "name" | "uuid" => Self::Text,
            "date" | "timestamp" | "timestamptz" => Self::DateTime,
            "json" | "jsonb" => Self::Json,
            _ => return None,
        })
    }

    fn column_type(self) -> ColumnType {
        match self {
            Self::Short => ColumnType::Short,
            Self::Int => ColumnType::Int,
            Self::Long => ColumnType::Long,
            Self::Float => ColumnType::Float,
            Self::Double => ColumnType::Double,
            Self::Bool => ColumnType::Bool,
            Self::Text => ColumnType::String,
            Self::DateTime => ColumnType::DateTime,
            Self::Json => ColumnType::Json,
        }
    }

    /// The select expression of column `name`, so each kind arrives as one Rust type.
    fn select(self, name: &str) -> String {
        let q = quote_ident(name);
        match self {
            Self::Short | Self::Int | Self::Long | Self::Float | Self::Bool => q,
            Self::Double => format!("{q}::float8"),
            Self::Text | Self::Json => format!("{q}::text"),
            Self::DateTime => format!("to_json({q}) #>> '{{}}'"),
        }
    }
}

/// One property column of the file.
#[derive(Debug, Clone)]
struct FieldDef {
    name: String,
    title: Option<String>,
    kind: Kind,
    nullable: bool,
}

/// What the file holds: its columns, geometry type and dimensions, names.
#[derive(Debug, Clone)]
struct Layout {
    name: String,
    title: String,
    description: String,
    metadata: String,
    fields: Vec<FieldDef>,
    geometry_type: GeometryType,
    has_z: bool,
    sql: String,
}

impl Layout {
    /// The layout of `schema`: the id column first, then the properties (the schema's, with
    /// their titles), each with the kind of its PostgreSQL type; Z when the geometry column is
    /// declared with it.
    async fn read(client: &impl GenericClient, schema: &CollectionSchema) -> Result<Self, DbError> {
        let c = &schema.collection;
        let rows = client
            .query(
                "SELECT a.attname::text, t.typname::text, a.attnotnull
                 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                 WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
                &[&c.table_sql()],
            )
            .await
            .map_err(DbError::query("reading a collection's column types"))?;
        let typed = |name: &str| -> Option<(Kind, bool)> {
            let row = rows.iter().find(|r| r.get::<_, &str>(0) == name)?;
            Kind::of(row.get(1)).map(|k| (k, !row.get::<_, bool>(2)))
        };
        let id = typed(&c.id_column).map(|(kind, nullable)| FieldDef {
            name: c.id_column.clone(),
            title: None,
            kind,
            nullable,
        });
        let fields: Vec<FieldDef> = id
            .into_iter()
            .chain(schema.properties.iter().filter_map(|p| {
                typed(&p.name).map(|(kind, nullable)| FieldDef {
                    name: p.name.clone(),
                    title: p.title.clone(),
                    kind,
                    nullable,
                })
            }))
            .collect();
        let has_z = declared_z(client, schema).await?;
        let geometry_type = geometry_type(&c.geometry_type);
        let mut geom = format!("ST_Transform({}, 4326)", schema.geom());
        if matches!(
            geometry_type,
            GeometryType::MultiPoint | GeometryType::MultiLineString | GeometryType::MultiPolygon
        ) {
            // The header's kind is every feature's: a stray single part becomes a multi.
            geom = format!("ST_Multi({geom})");
        }
        let geom = if has_z {
            format!("ST_Force3DZ({geom})")
        } else {
            format!("ST_Force2D({geom})")
        };
        let sql = format!(
            "SELECT ST_AsBinary({geom}, 'NDR'){} FROM {}",
            fields
                .iter()
                .map(|f| format!(", {}", f.kind.select(&f.name)))
                .collect::<String>(),
            c.table_sql()
        );
        let metadata = serde_json::json!({
            "license": c.license,
            "attribution": c.attribution,
        })
        .to_string();
        Ok(Self {
            name: c.id.clone(),
            title: c.title.clone(),
            description: c.description.clone(),
            metadata,
            fields,
            geometry_type,
            has_z,
            sql,
        })
    }
}

/// The FlatGeobuf geometry type of a catalog's `geometry_type` (`Unknown`: mixed).
fn geometry_type(name: &str) -> GeometryType {
    let lower = name.to_ascii_lowercase();
    match lower.trim_end_matches(['z', 'm', ' ']) {
        "point" => GeometryType::Point,
        "linestring" => GeometryType::LineString,
        "polygon" => GeometryType::Polygon,
        "multipoint" => GeometryType::MultiPoint,
        "multilinestring" => GeometryType::MultiLineString,
        "multipolygon" => GeometryType::MultiPolygon,
        _ => GeometryType::Unknown,
    }
}

/// Whether the collection's geometry column is declared with a Z coordinate.
async fn declared_z(
    client: &impl GenericClient,
    schema: &CollectionSchema,
) -> Result<bool, DbError> {
    let c = &schema.collection;
    let row = client
        .query_opt(
            "SELECT coord_dimension, type::text FROM geometry_columns
             WHERE f_table_schema = $1 AND f_table_name = $2 AND f_geometry_column = $3",
            &[&c.table_schema, &c.table_name, &c.geometry_column],
        )
        .await
        .map_err(DbError::query("reading a geometry column's dimensions"))?;
    Ok(row.is_some_and(|r| {
        let dims: i32 = r.get(0);
        let kind: String = r.get(1);
        dims == 4 || (dims == 3 && !kind.ends_with('M'))
    }))
}

/// A feature's place in the spill file, its box and its Hilbert value: all that is kept in
/// memory per feature (48 bytes).
#[derive(Debug, Clone, Copy)]
struct Entry {
    bbox: [f64; 4],
    offset: u64,
    size: u32,
    hilbert: u32,
}

/// A box that contains nothing: every `expand` replaces it, it intersects nothing.
const EMPTY_BOX: [f64; 4] = [
    f64::INFINITY,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NEG_INFINITY,
];

fn expand(b: &mut [f64; 4], o: &[f64; 4]) {
    b[0] = b[0].min(o[0]);
    b[1] = b[1].min(o[1]);
    b[2] = b[2].max(o[2]);
    b[3] = b[3].max(o[3]);
}

/// Writes `schema`'s features into `target` (under a temporary name in the same folder,
/// renamed when complete); returns the file's size.
pub async fn write_file(
    client: &impl GenericClient,
    schema: &CollectionSchema,
    target: &Path,
) -> Result<u64, FgbError> {
    let io = |e| FgbError::Io(target.to_owned(), e);
    let dir = target.parent().unwrap_or(Path::new(".")).to_owned();
    std::fs::create_dir_all(&dir).map_err(io)?;
    let layout = Layout::read(client, schema).await?;
    // The features in the order they come, read back in the tree's order at the end.
    let spill = tempfile::tempfile_in(&dir).map_err(io)?;
    let mut spill = tokio::io::BufWriter::with_capacity(
        stadtkarte_core::stream::CHUNK,
        tokio::fs::File::from_std(spill),
    );
    let expected = schema.collection.feature_count.unwrap_or(0).max(0);
    let mut entries: Vec<Entry> =
        Vec::with_capacity(usize::try_from(expected).unwrap_or(0).min(50_000_000));
    let rows = client
        .query_raw(&layout.sql, std::iter::empty::<&str>())
        .await
        .map_err(DbError::query("exporting a collection as FlatGeobuf"))?;
    let mut rows = std::pin::pin!(rows);
    let mut encoder = Encoder::default();
    let mut offset = 0_u64;
    while let Some(row) = rows.next().await {
        let row = row.map_err(DbError::query("exporting a collection as FlatGeobuf"))?;
        let n = entries.len() as u64;
        let (bytes, bbox) = encoder
            .feature(&row, &layout.fields)
            .map_err(|e| FgbError::Geometry(n, e))?;
        let size = u32::try_from(bytes.len())
            .map_err(|_| FgbError::Geometry(n, "larger than 4 GB".into()))?;
        spill.write_all(bytes).await.map_err(io)?;
        entries.push(Entry {
            bbox,
            offset,
            size,
            hilbert: 0,
        });
        offset += u64::from(size);
    }
    spill.flush().await.map_err(io)?;
    let spill = spill.into_inner().into_std().await;
    let target = target.to_owned();
    tokio::task::spawn_blocking(move || assemble(&layout, entries, &spill, &dir, &target))
        .await
        .map_err(|e| FgbError::Io(PathBuf::new(), std::io::Error::other(e)))?
}

/// Sorts the entries, writes header, tree and features into a temporary file and renames it.
fn assemble(
    layout: &Layout,
    mut entries: Vec<Entry>,
    spill: &std::fs::File,
    dir: &Path,
    target: &Path,
) -> Result<u64, FgbError> {
    use std::os::unix::fs::FileExt as _;
    let io = |e| FgbError::Io(target.to_owned(), e);
    let extent = entries.iter().fold(EMPTY_BOX, |mut b, e| {
        if e.bbox[0] <= e.bbox[2] {
            expand(&mut b, &e.bbox);
        }
        b
    });
    for e in &mut entries {
        e.hilbert = hilbert_of_box(&e.bbox, &extent);
    }
    entries.sort_unstable_by_key(|e| e.hilbert);
    let mut builder = tempfile::Builder::new();
    // Readable like the other prepared files, for a web server in front that serves the folder.
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let (file, temp_path) = builder.tempfile_in(dir).map_err(io)?.into_parts();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    out.write_all(&MAGIC).map_err(io)?;
    out.write_all(&header(layout, entries.len() as u64, &extent))
        .map_err(io)?;
    if !entries.is_empty() {
        write_tree(&mut out, &entries).map_err(io)?;
    }
    let mut buf = Vec::new();
    for e in &entries {
        buf.resize(e.size as usize, 0);
        spill.read_exact_at(&mut buf, e.offset).map_err(io)?;
        out.write_all(&buf).map_err(io)?;
    }
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    drop(file);
    temp_path.persist(target).map_err(|e| io(e.error))?;
    Ok(size)
}

/// The size-prefixed header flatbuffer.
fn header(layout: &Layout, count: u64, extent: &[f64; 4]) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let columns: Vec<WIPOffset<Column>> = layout
        .fields
        .iter()
        .map(|f| {
            let name = Some(fbb.create_string(&f.name));
            let title = f.title.as_deref().map(|t| fbb.create_string(t));
            Column::create(
                &mut fbb,
                &ColumnArgs {
                    name,
                    type_: f.kind.column_type(),
                    title,
                    nullable: f.nullable,
                    ..ColumnArgs::default()
                },
            )
        })
        .collect();
    let columns = Some(fbb.create_vector(&columns));
    let envelope = (extent[0] <= extent[2]).then(|| fbb.create_vector(extent.as_slice()));
    let org = Some(fbb.create_string("EPSG"));
    let crs_name = Some(fbb.create_string("WGS 84"));
    let crs = Some(Crs::create(
        &mut fbb,
        &CrsArgs {
            org,
            code: 4326,
            name: crs_name,
            ..CrsArgs::default()
        },
    ));
    let name = Some(fbb.create_string(&layout.name));
    let title = Some(fbb.create_string(&layout.title));
    let description = Some(fbb.create_string(&layout.description));
    let metadata = Some(fbb.create_string(&layout.metadata));
    let header = Header::create(
        &mut fbb,
        &HeaderArgs {
            name,
            envelope,
            geometry_type: layout.geometry_type,
            has_z: layout.has_z,
            columns,
            features_count: count,
            // No features, no tree: readers compute the tree's size from these two numbers.
            index_node_size: if count == 0 { 0 } else { NODE_SIZE },
            crs,
            title,
            description,
            metadata,
            ..HeaderArgs::default()
        },
    );
    fbb.finish_size_prefixed(header, None);
    fbb.finished_data().to_vec()
}

/// The number of nodes per level of a packed R-tree over `leaves` items, leaves first. Like
/// every reader, a single leaf still gets a root above it.
fn level_sizes(leaves: usize) -> Vec<usize> {
    let node = usize::from(NODE_SIZE);
    let mut sizes = vec![leaves];
    let mut n = leaves;
    loop {
        n = n.div_ceil(node);
        sizes.push(n);
        if n <= 1 {
            break;
        }
    }
    sizes
}

/// Writes the packed R-tree of the sorted `entries`: the levels from the root down, each node
/// its box and — for a leaf — its feature's byte offset in the feature section, or — above —
/// the position of its first child in the whole tree.
fn write_tree(out: &mut impl std::io::Write, entries: &[Entry]) -> std::io::Result<()> {
    let node = usize::from(NODE_SIZE);
    let sizes = level_sizes(entries.len());
    let total: usize = sizes.iter().sum();
    // Start of each level in storage order (leaves at the end, the root at 0).
    let mut starts = Vec::with_capacity(sizes.len());
    let mut end = total;
    for size in &sizes {
        end -= size;
        starts.push(end);
    }
    // The inner nodes (positions 0 .. total - leaves): built bottom-up from the leaf boxes.
    let inner_count = total - entries.len();
    let mut inner: Vec<([f64; 4], u64)> = vec![(EMPTY_BOX, 0); inner_count];
    for level in 1..sizes.len() {
        let child_start = starts[level - 1];
        for i in 0..sizes[level] {
            let first = i * node;
            let last = ((i + 1) * node).min(sizes[level - 1]);
            let mut b = EMPTY_BOX;
            for c in first..last {
                let child = if level == 1 {
                    &entries[c].bbox
                } else {
                    &inner[child_start + c].0
                };
                let child = *child;
                expand(&mut b, &child);
            }
            inner[starts[level] + i] = (b, (child_start + first) as u64);
        }
    }
    let mut write_node = |b: &[f64; 4], offset: u64| -> std::io::Result<()> {
        let mut bytes = [0_u8; 40];
        for (i, v) in b.iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        bytes[32..].copy_from_slice(&offset.to_le_bytes());
        out.write_all(&bytes)
    };
    for (b, offset) in &inner {
        write_node(b, *offset)?;
    }
    let mut offset = 0_u64;
    for e in entries {
        write_node(&e.bbox, offset)?;
        offset += u64::from(e.size);
    }
    Ok(())
}

/// The Hilbert value of a box's centre on a 65,536 × 65,536 grid over `extent`; boxes of
/// features without geometry sort last.
fn hilbert_of_box(b: &[f64; 4], extent: &[f64; 4]) -> u32 {
    if b[0] > b[2] {
        return u32::MAX;
    }
    let cell = |v: f64, min: f64, max: f64| -> u32 {
        let span = max - min;
        if span <= 0.0 || !span.is_finite() {
            return 0;
        }
        // In 0 ..= 65535 by the clamp, so the cast loses nothing.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let c = (((v - min) / span) * 65535.0).clamp(0.0, 65535.0) as u32;
        c
    };
    hilbert(
        cell(f64::midpoint(b[0], b[2]), extent[0], extent[2]),
        cell(f64::midpoint(b[1], b[3]), extent[1], extent[3]),
    )
}

/// The distance of (x, y) along the Hilbert curve through a 65,536 × 65,536 grid: per bit from
/// the highest, the quadrant adds its share and the rest of the grid is turned into the
/// quadrant's frame.
fn hilbert(mut x: u32, mut y: u32) -> u32 {
    const SIDE: u32 = 1 << 16;
    let mut d = 0_u32;
    let mut s = SIDE / 2;
    while s > 0 {
        let rx = u32::from(x & s != 0);
        let ry = u32::from(y & s != 0);
        d += s * s * ((3 * rx) ^ ry);
        if ry == 0 {
            if rx == 1 {
                x = SIDE - 1 - x;
                y = SIDE - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    d
}

/// Encodes rows as size-prefixed `Feature` flatbuffers, reusing its buffers.
#[derive(Default)]
struct Encoder {
    fbb: FlatBufferBuilder<'static>,
    properties: Vec<u8>,
}

impl Encoder {
    /// The bytes of `row` (geometry first, then `fields`) and the geometry's box.
    fn feature(&mut self, row: &Row, fields: &[FieldDef]) -> Result<(&[u8], [f64; 4]), String> {
        self.fbb.reset();
        self.properties.clear();
        for (i, f) in fields.iter().enumerate() {
            properties(row, i, f.kind, &mut self.properties)?;
        }
        let wkb: Option<&[u8]> = row.try_get(0).map_err(|e| e.to_string())?;
        let (shape, bbox) = match wkb {
            Some(bytes) => {
                let mut reader = Wkb::new(bytes);
                let shape = reader.shape()?;
                (Some(shape), reader.bbox)
            }
            None => (None, EMPTY_BOX),
        };
        let geometry = shape.as_ref().map(|s| s.build(&mut self.fbb));
        let properties = (!self.properties.is_empty())
            .then(|| self.fbb.create_vector(self.properties.as_slice()));
        let feature = Feature::create(
            &mut self.fbb,
            &FeatureArgs {
                geometry,
                properties,
                columns: None,
            },
        );
        self.fbb.finish_size_prefixed(feature, None);
        Ok((self.fbb.finished_data(), bbox))
    }
}

/// Appends column `i`'s value of `row` (at row index `i + 1`) as the format stores it: the
/// column's number, then the value little-endian; strings with their length. NULL is left out.
fn properties(row: &Row, i: usize, kind: Kind, out: &mut Vec<u8>) -> Result<(), String> {
    let at = i + 1;
    let number = u16::try_from(i).map_err(|_| "more than 65,536 columns".to_owned())?;
    let err = |e: stadtkarte_core::tokio_postgres::Error| e.to_string();
    let mut put = |value: &[u8]| {
        out.extend_from_slice(&number.to_le_bytes());
        out.extend_from_slice(value);
    };
    macro_rules! number {
        ($t:ty) => {
            if let Some(v) = row.try_get::<_, Option<$t>>(at).map_err(err)? {
                put(&v.to_le_bytes());
            }
        };
    }
    match kind {
        Kind::Short => number!(i16),
        Kind::Int => number!(i32),
        Kind::Long => number!(i64),
        Kind::Float => number!(f32),
        Kind::Double => number!(f64),
        Kind::Bool => {
            if let Some(v) = row.try_get::<_, Option<bool>>(at).map_err(err)? {
                put(&[u8::from(v)]);
            }
        }
        Kind::Text | Kind::DateTime | Kind::Json => {
            if let Some(v) = row.try_get::<_, Option<&str>>(at).map_err(err)? {
                let len = u32::try_from(v.len()).map_err(|_| "a value above 4 GB".to_owned())?;
                let mut value = Vec::with_capacity(4 + v.len());
                value.extend_from_slice(&len.to_le_bytes());
                value.extend_from_slice(v.as_bytes());
                put(&value);
            }
        }
    }
    Ok(())
}

/// A geometry as FlatGeobuf stores it: flat coordinates, the ends of rings or lines (in
/// points), and parts for multi-polygons and collections.
#[derive(Debug, Default)]
struct Shape {
    kind: u8,
    xy: Vec<f64>,
    z: Vec<f64>,
    ends: Vec<u32>,
    parts: Vec<Shape>,
}

impl Shape {
    /// The `Geometry` table (parts first, as flatbuffers build children before parents).
    fn build<'b>(&self, fbb: &mut FlatBufferBuilder<'b>) -> WIPOffset<Geometry<'b>> {
        let parts: Vec<WIPOffset<Geometry<'b>>> = self.parts.iter().map(|p| p.build(fbb)).collect();
        let parts = (!parts.is_empty()).then(|| fbb.create_vector(&parts));
        let xy = (!self.xy.is_empty()).then(|| fbb.create_vector(&self.xy));
        let z = (!self.z.is_empty()).then(|| fbb.create_vector(&self.z));
        // One ring or line needs no ends.
        let ends = (self.ends.len() > 1).then(|| fbb.create_vector(&self.ends));
        Geometry::create(
            fbb,
            &GeometryArgs {
                ends,
                xy,
                z,
                type_: GeometryType(self.kind),
                parts,
                ..GeometryArgs::default()
            },
        )
    }
}

/// A reader of (E)WKB that notes the box of every coordinate it reads.
struct Wkb<'a> {
    bytes: &'a [u8],
    pos: usize,
    bbox: [f64; 4],
}

impl<'a> Wkb<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            pos: 0,
            bbox: EMPTY_BOX,
        }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let slice = self
            .bytes
            .get(self.pos..self.pos + N)
            .ok_or_else(|| "WKB ends early".to_owned())?;
        self.pos += N;
        let mut a = [0_u8; N];
        a.copy_from_slice(slice);
        Ok(a)
    }

    fn u32(&mut self, little: bool) -> Result<u32, String> {
        let b = self.take::<4>()?;
        Ok(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn f64(&mut self, little: bool) -> Result<f64, String> {
        let b = self.take::<8>()?;
        Ok(if little {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }

    /// One geometry with its byte order and type: the kind (1–7), whether it has Z and M.
    fn shape(&mut self) -> Result<Shape, String> {
        let little = self.take::<1>()?[0] == 1;
        let mut code = self.u32(little)?;
        let mut z = code & 0x8000_0000 != 0;
        let mut m = code & 0x4000_0000 != 0;
        if code & 0x2000_0000 != 0 {
            self.u32(little)?; // EWKB SRID
        }
        code &= 0x0fff_ffff;
        match code / 1000 {
            1 => z = true,
            2 => m = true,
            3 => (z, m) = (true, true),
            _ => {}
        }
        let kind = u8::try_from(code % 1000).unwrap_or(0);
        let dims = Dims { little, z, m };
        let mut shape = Shape {
            kind,
            ..Shape::default()
        };
        match kind {
            1 => self.points(1, dims, &mut shape)?,
            2 => {
                let n = self.u32(little)?;
                self.points(n, dims, &mut shape)?;
            }
            3 => self.rings(dims, &mut shape)?,
            4 | 5 => {
                for _ in 0..self.u32(little)? {
                    let part = self.shape()?;
                    shape.xy.extend_from_slice(&part.xy);
                    shape.z.extend_from_slice(&part.z);
                    if kind == 5 {
                        shape.ends.push(count_points(&shape));
                    }
                }
            }
            6 | 7 => {
                for _ in 0..self.u32(little)? {
                    shape.parts.push(self.shape()?);
                }
            }
            other => return Err(format!("WKB geometry type {other} is not written")),
        }
        Ok(shape)
    }

    fn rings(&mut self, dims: Dims, shape: &mut Shape) -> Result<(), String> {
        for _ in 0..self.u32(dims.little)? {
            let n = self.u32(dims.little)?;
            self.points(n, dims, shape)?;
            shape.ends.push(count_points(shape));
        }
        Ok(())
    }

    fn points(&mut self, n: u32, dims: Dims, shape: &mut Shape) -> Result<(), String> {
        for _ in 0..n {
            let x = self.f64(dims.little)?;
            let y = self.f64(dims.little)?;
            shape.xy.extend([x, y]);
            if dims.z {
                shape.z.push(self.f64(dims.little)?);
            }
            if dims.m {
                self.f64(dims.little)?;
            }
            // An empty point is NaN, NaN in WKB: it widens no box.
            if !x.is_nan() && !y.is_nan() {
                expand(&mut self.bbox, &[x, y, x, y]);
            }
        }
        Ok(())
    }
}

/// How coordinates are stored in a piece of WKB.
#[derive(Debug, Clone, Copy)]
struct Dims {
    little: bool,
    z: bool,
    m: bool,
}

/// The points in `shape.xy` so far, as a ring or line end.
fn count_points(shape: &Shape) -> u32 {
    u32::try_from(shape.xy.len() / 2).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hilbert_visits_the_quadrants_in_order() {
        // The first-order curve: lower left, upper left, upper right, lower right.
        let q = 1 << 15;
        let quarter = 1 << 30;
        assert_eq!(hilbert(0, 0) / quarter, 0);
        assert_eq!(hilbert(0, q) / quarter, 1);
        assert_eq!(hilbert(q, q) / quarter, 2);
        assert_eq!(hilbert(q, 0) / quarter, 3);
        // Neighbouring cells along the curve are neighbours on the grid.
        let mut seen = std::collections::HashSet::new();
        let mut cells: Vec<(u32, u32, u32)> = Vec::new();
        for x in 0..64 {
            for y in 0..64 {
                let (xs, ys) = (x << 10, y << 10);
                let d = hilbert(xs, ys) >> 20;
                assert!(seen.insert(d), "distinct");
                cells.push((d, x, y));
            }
        }
        cells.sort_unstable();
        for w in cells.windows(2) {
            let (dx, dy) = (w[0].1.abs_diff(w[1].1), w[0].2.abs_diff(w[1].2));
            assert_eq!(dx + dy, 1, "{w:?}");
        }
    }

    #[test]
    fn tree_levels_match_the_readers() {
        assert_eq!(level_sizes(1), [1, 1]);
        assert_eq!(level_sizes(16), [16, 1]);
        assert_eq!(level_sizes(17), [17, 2, 1]);
        assert_eq!(
            level_sizes(1_000_000),
            [1_000_000, 62_500, 3_907, 245, 16, 1]
        );
    }

    #[test]
    #[allow(clippy::float_cmp)] // the box's values are copied from the input, not computed
    fn wkb_polygon_with_a_hole() {
        let mut wkb = vec![1_u8];
        wkb.extend(3_u32.to_le_bytes());
        wkb.extend(2_u32.to_le_bytes());
        for ring in [
            &[(0.0, 0.0), (4.0, 0.0), (4.0, 3.0), (0.0, 0.0)][..],
            &[(1.0, 1.0), (2.0, 1.0), (1.0, 2.0), (1.0, 1.0)][..],
        ] {
            wkb.extend(u32::try_from(ring.len()).unwrap().to_le_bytes());
            for (x, y) in ring {
                wkb.extend(f64::to_le_bytes(*x));
                wkb.extend(f64::to_le_bytes(*y));
            }
        }
        let mut r = Wkb::new(&wkb);
        let s = r.shape().unwrap();
        assert_eq!(s.kind, 3);
        assert_eq!(s.ends, [4, 8]);
        assert_eq!(s.xy.len(), 16);
        assert_eq!(r.bbox, [0.0, 0.0, 4.0, 3.0]);
        assert!(Wkb::new(&wkb[..20]).shape().is_err());
    }
}
