//! A small, independent Mapbox Vector Tile decoder (protobuf by hand), so tests read tiles
//! without trusting the code that wrote them.

use std::collections::BTreeMap;

/// A decoded tile value.
#[derive(Debug, Clone, PartialEq)]
pub enum MvtValue {
    /// string
    Text(String),
    /// float or double
    Number(f64),
    /// int, uint, sint
    Int(i64),
    /// bool
    Bool(bool),
}

/// A decoded feature.
#[derive(Debug, Clone)]
pub struct MvtFeature {
    /// Feature id, when set.
    pub id: Option<u64>,
    /// 1 point, 2 line, 3 polygon.
    pub geometry_type: u32,
    /// Attributes.
    pub properties: BTreeMap<String, MvtValue>,
    /// Every vertex in tile coordinates.
    pub points: Vec<(i64, i64)>,
}

/// A decoded layer.
#[derive(Debug, Clone)]
pub struct MvtLayer {
    /// Name.
    pub name: String,
    /// Extent.
    pub extent: u32,
    /// Features.
    pub features: Vec<MvtFeature>,
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let byte = self.b[self.i];
            self.i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return v;
            }
            shift += 7;
        }
    }

    fn bytes(&mut self) -> &'a [u8] {
        let len = usize::try_from(self.varint()).unwrap();
        let s = &self.b[self.i..self.i + len];
        self.i += len;
        s
    }

    fn done(&self) -> bool {
        self.i >= self.b.len()
    }

    /// (field, wire type)
    fn key(&mut self) -> (u64, u64) {
        let k = self.varint();
        (k >> 3, k & 7)
    }

    fn skip(&mut self, wire: u64) {
        match wire {
            0 => {
                self.varint();
            }
            1 => self.i += 8,
            2 => {
                self.bytes();
            }
            5 => self.i += 4,
            other => panic!("unknown wire type {other}"),
        }
    }
}

fn packed(bytes: &[u8]) -> Vec<u32> {
    let mut r = Reader { b: bytes, i: 0 };
    let mut out = Vec::new();
    while !r.done() {
        out.push(u32::try_from(r.varint()).unwrap());
    }
    out
}

fn value(bytes: &[u8]) -> MvtValue {
    let mut r = Reader { b: bytes, i: 0 };
    let (field, wire) = r.key();
    match (field, wire) {
        (1, 2) => MvtValue::Text(String::from_utf8(r.bytes().to_vec()).unwrap()),
        (2, 5) => MvtValue::Number(f64::from(f32::from_le_bytes(
            bytes[1..5].try_into().unwrap(),
        ))),
        (3, 1) => MvtValue::Number(f64::from_le_bytes(bytes[1..9].try_into().unwrap())),
        (4 | 5, 0) => MvtValue::Int(r.varint().cast_signed()),
        (6, 0) => {
            let v = r.varint();
            MvtValue::Int((v >> 1).cast_signed() ^ -(v & 1).cast_signed())
        }
        (7, 0) => MvtValue::Bool(r.varint() != 0),
        other => panic!("unknown value field {other:?}"),
    }
}

fn geometry(commands: &[u32]) -> Vec<(i64, i64)> {
    let (mut x, mut y) = (0i64, 0i64);
    let mut out = Vec::new();
    let mut i = 0;
    while i < commands.len() {
        let id = commands[i] & 7;
        let count = commands[i] >> 3;
        i += 1;
        if id == 7 {
            continue; // ClosePath
        }
        for _ in 0..count {
            let zig = |v: u32| i64::from(v >> 1) ^ -i64::from(v & 1);
            x += zig(commands[i]);
            y += zig(commands[i + 1]);
            i += 2;
            out.push((x, y));
        }
    }
    out
}

/// Decodes a whole tile.
#[must_use]
pub fn decode(tile: &[u8]) -> Vec<MvtLayer> {
    let mut r = Reader { b: tile, i: 0 };
    let mut layers = Vec::new();
    while !r.done() {
        let (field, wire) = r.key();
        if field != 3 {
            r.skip(wire);
            continue;
        }
        let mut l = Reader { b: r.bytes(), i: 0 };
        let (mut name, mut extent) = (String::new(), 4096);
        let (mut keys, mut values, mut raw_features) = (Vec::new(), Vec::new(), Vec::new());
        while !l.done() {
            match l.key() {
                (1, 2) => name = String::from_utf8(l.bytes().to_vec()).unwrap(),
                (2, 2) => raw_features.push(l.bytes()),
                (3, 2) => keys.push(String::from_utf8(l.bytes().to_vec()).unwrap()),
                (4, 2) => values.push(value(l.bytes())),
                (5, 0) => extent = u32::try_from(l.varint()).unwrap(),
                (_, wire) => l.skip(wire),
            }
        }
        let features = raw_features
            .into_iter()
            .map(|bytes| {
                let mut f = Reader { b: bytes, i: 0 };
                let mut feature = MvtFeature {
                    id: None,
                    geometry_type: 0,
                    properties: BTreeMap::new(),
                    points: Vec::new(),
                };
                while !f.done() {
                    match f.key() {
                        (1, 0) => feature.id = Some(f.varint()),
                        (2, 2) => {
                            for pair in packed(f.bytes()).chunks(2) {
                                feature.properties.insert(
                                    keys[pair[0] as usize].clone(),
                                    values[pair[1] as usize].clone(),
                                );
                            }
                        }
                        (3, 0) => feature.geometry_type = u32::try_from(f.varint()).unwrap(),
                        (4, 2) => feature.points = geometry(&packed(f.bytes())),
                        (_, wire) => f.skip(wire),
                    }
                }
                feature
            })
            .collect();
        layers.push(MvtLayer {
            name,
            extent,
            features,
        });
    }
    layers
}
