//! The few things the `gdal` crate does not expose that imports need: a field's subtype (to
//! tell booleans from integers), whether a field is set at all (an absent GeoJSON property is
//! "unset", not "null", and the crate reads it as an empty string), the coordinate dimension of
//! a geometry, and GDAL's errors on the reading thread (a driver that fails part-way reports the
//! failure only through its error handler and then simply returns no more features).

use std::cell::RefCell;
use std::ffi::{CStr, c_char, c_int};

use gdal::vector::{Defn, Feature, Geometry};

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

/// Whether field `index` of `feature` holds a value (set and not null).
#[allow(unsafe_code)]
pub fn has_value(feature: &Feature<'_>, index: usize) -> bool {
    let Ok(index) = i32::try_from(index) else {
        return false;
    };
    // SAFETY: the feature handle is alive while `feature` is borrowed; the call only reads it
    // and checks the index itself.
    unsafe { gdal_sys::OGR_F_IsFieldSetAndNotNull(feature.c_feature(), index) != 0 }
}

/// Whether a feature's geometry exists (the crate hands out a geometry with a null handle for a
/// feature without one, on which every GDAL call reports an error).
#[allow(unsafe_code)]
pub fn is_present(geometry: &Geometry) -> bool {
    // SAFETY: only the handle's address is read.
    !unsafe { geometry.c_geometry() }.is_null()
}

/// Gives `geometry` exactly the wanted coordinate dimension: Z kept (or added as 0) when `z`,
/// dropped otherwise; measures (M) are always dropped.
#[allow(unsafe_code)]
pub fn set_dimensions(geometry: &mut Geometry, z: bool) {
    // SAFETY: the geometry handle is owned by `geometry`, which we borrow mutably.
    unsafe {
        let handle = geometry.c_geometry();
        gdal_sys::OGR_G_SetMeasured(handle, 0);
        gdal_sys::OGR_G_Set3D(handle, c_int::from(z));
    }
}

thread_local! {
    /// Failures reported by GDAL on this thread while an [`ErrorCapture`] is active.
    static FAILURES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Collects GDAL's errors of class `CE_Failure` and worse on the current thread while it lives
/// (GDAL's own thread-local handler stack); warnings are passed on to the default handler.
#[derive(Debug)]
pub struct ErrorCapture {
    /// Not `Send`: the handler was pushed on this thread's stack.
    _thread_bound: std::marker::PhantomData<*const ()>,
}

#[allow(unsafe_code)]
unsafe extern "C" fn record_failure(
    class: gdal_sys::CPLErr::Type,
    _: c_int,
    message: *const c_char,
) {
    if class >= gdal_sys::CPLErr::CE_Failure {
        let text = if message.is_null() {
            String::new()
        } else {
            // SAFETY: GDAL passes a NUL-terminated message that lives for this call.
            unsafe { CStr::from_ptr(message) }
                .to_string_lossy()
                .into_owned()
        };
        FAILURES.with(|f| f.borrow_mut().push(text));
    }
}

impl ErrorCapture {
    /// Starts collecting on this thread.
    #[allow(unsafe_code)]
    #[must_use]
    pub fn start() -> Self {
        FAILURES.with(|f| f.borrow_mut().clear());
        // SAFETY: the handler is a plain function without user data; it is popped in `drop` on
        // the same thread (the type is not `Send`).
        unsafe { gdal_sys::CPLPushErrorHandlerEx(Some(record_failure), std::ptr::null_mut()) };
        Self {
            _thread_bound: std::marker::PhantomData,
        }
    }

    /// The failures collected so far (and forgets them).
    #[must_use]
    #[allow(clippy::unused_self)] // only while the capture is active
    pub fn take(&self) -> Vec<String> {
        FAILURES.with(|f| std::mem::take(&mut *f.borrow_mut()))
    }
}

impl Drop for ErrorCapture {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: pops the handler pushed in `start` on this same thread.
        unsafe { gdal_sys::CPLPopErrorHandler() };
    }
}
