//! The one thing the `gdal` crate does not expose that imports need: a field's subtype, to tell
//! booleans from integers (GeoPackage and GeoJSON booleans arrive as integers).

use gdal::vector::Defn;

/// Whether field `index` of `defn` is a boolean.
#[allow(unsafe_code)]
pub fn is_boolean(defn: &Defn, index: usize) -> bool {
    let Ok(index) = i32::try_from(index) else {
        return false;
    };
    // SAFETY: `defn` is a live feature definition borrowed from its layer; OGR_FD_GetFieldDefn
    // returns a handle owned by it (or null for a bad index), which we only read while `defn`
    // is borrowed.
    unsafe {
        let field = gdal_sys::OGR_FD_GetFieldDefn(defn.c_defn(), index);
        !field.is_null()
            && gdal_sys::OGR_Fld_GetSubType(field) == gdal_sys::OGRFieldSubType::OFSTBoolean
    }
}
