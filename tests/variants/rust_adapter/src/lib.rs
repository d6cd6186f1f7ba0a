//! A Rust adapter library of the C ABI of <snapcheck/adapter.h>: the request structs mirrored
//! with #[repr(C)], the exports with #[no_mangle] extern "C". It lists save-full and load and
//! refuses every request with a message (the proof that the ABI is usable from Rust).
use std::ffi::{c_char, c_int, CStr};

pub const SNAPCHECK_ADAPTER_ABI_VERSION: u32 = 1;
pub const SNAPCHECK_ADAPTER_OK: c_int = 0;
pub const SNAPCHECK_ADAPTER_FAILED: c_int = 1;
pub const SNAPCHECK_CAP_SAVE_FULL: u32 = 0x1;
pub const SNAPCHECK_CAP_LOAD: u32 = 0x4;

#[repr(C)]
pub struct SaveReq {
    pub struct_size: u32,
    pub kind: u32,
    pub page_size: u32,
    pub reserved: u32,
    pub dir: *const c_char,
    pub id: *const c_char,
    pub base_id: *const c_char,
    pub state: *const u8,
    pub state_len: u64,
    pub memory: *const u8,
    pub memory_len: u64,
    pub dirty: *const u8,
    pub dirty_len: u64,
    pub state_path: *const c_char,
    pub memory_path: *const c_char,
    pub dirty_path: *const c_char,
}

#[repr(C)]
pub struct LoadReq {
    pub struct_size: u32,
    pub reserved: u32,
    pub dir: *const c_char,
    pub id: *const c_char,
    pub state_out: *const c_char,
    pub memory_out: *const c_char,
}

const _: () = assert!(std::mem::size_of::<SaveReq>() == 112);
const _: () = assert!(std::mem::size_of::<LoadReq>() == 40);

fn refuse(op: &str, id: *const c_char, msg: *mut c_char, msg_cap: usize) -> c_int {
    let id = if id.is_null() {
        String::new()
    } else {
        // SAFETY: snapcheck passes NUL-terminated strings that live for the call.
        unsafe { CStr::from_ptr(id) }.to_string_lossy().into_owned()
    };
    let text = format!("rust adapter: {} {} refused", op, id);
    let n = text.len().min(msg_cap.saturating_sub(1));
    // SAFETY: msg has msg_cap >= 1 bytes (the header's contract).
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), msg as *mut u8, n);
        *msg.add(n) = 0;
    }
    SNAPCHECK_ADAPTER_FAILED
}

#[no_mangle]
pub extern "C" fn snapcheck_adapter_abi() -> u32 {
    SNAPCHECK_ADAPTER_ABI_VERSION
}

#[no_mangle]
pub extern "C" fn snapcheck_adapter_capabilities(
    out_caps: *mut u32,
    _msg: *mut c_char,
    _msg_cap: usize,
) -> c_int {
    // SAFETY: out_caps points to a u32 (the header's contract).
    unsafe { *out_caps = SNAPCHECK_CAP_SAVE_FULL | SNAPCHECK_CAP_LOAD };
    SNAPCHECK_ADAPTER_OK
}

#[no_mangle]
pub extern "C" fn snapcheck_adapter_save(req: *const SaveReq, msg: *mut c_char, msg_cap: usize) -> c_int {
    // SAFETY: req points to a request of at least the fields read here (struct_size first).
    refuse("save", unsafe { (*req).id }, msg, msg_cap)
}

#[no_mangle]
pub extern "C" fn snapcheck_adapter_load(req: *const LoadReq, msg: *mut c_char, msg_cap: usize) -> c_int {
    // SAFETY: as above.
    refuse("load", unsafe { (*req).id }, msg, msg_cap)
}
