//! The same library is also a VST3 module: its factory lists the plugin under the stable class
//! ID and creates a component. (No VST3 host runs headless on Debian, so this talks to the
//! factory directly through the VST3 ABI.)

#![cfg(target_os = "linux")]

mod common;

use std::ffi::{CStr, c_char, c_void};

/// `Steinberg::PClassInfo`.
#[repr(C)]
struct ClassInfo {
    cid: [u8; 16],
    cardinality: i32,
    category: [c_char; 32],
    name: [c_char; 64],
}

/// `Steinberg::PFactoryInfo`.
#[repr(C)]
struct FactoryInfo {
    vendor: [c_char; 64],
    url: [c_char; 256],
    email: [c_char; 128],
    flags: i32,
}

/// `IPluginFactory`'s vtable (FUnknown first).
#[repr(C)]
struct FactoryVtbl {
    query_interface: unsafe extern "C" fn(*mut c_void, *const u8, *mut *mut c_void) -> i32,
    add_ref: unsafe extern "C" fn(*mut c_void) -> u32,
    release: unsafe extern "C" fn(*mut c_void) -> u32,
    get_factory_info: unsafe extern "C" fn(*mut c_void, *mut FactoryInfo) -> i32,
    count_classes: unsafe extern "C" fn(*mut c_void) -> i32,
    get_class_info: unsafe extern "C" fn(*mut c_void, i32, *mut ClassInfo) -> i32,
    create_instance: unsafe extern "C" fn(*mut c_void, *const u8, *const u8, *mut *mut c_void) -> i32,
}

/// FUnknown's vtable, enough to release what the factory created.
#[repr(C)]
struct UnknownVtbl {
    query_interface: unsafe extern "C" fn(*mut c_void, *const u8, *mut *mut c_void) -> i32,
    add_ref: unsafe extern "C" fn(*mut c_void) -> u32,
    release: unsafe extern "C" fn(*mut c_void) -> u32,
}

const K_RESULT_OK: i32 = 0;
/// `Vst::IComponent` IID (E831FF31-F2D54301-928EBBEE-25697802), non-COM byte order.
const ICOMPONENT_IID: [u8; 16] =
    [0xE8, 0x31, 0xFF, 0x31, 0xF2, 0xD5, 0x43, 0x01, 0x92, 0x8E, 0xBB, 0xEE, 0x25, 0x69, 0x78, 0x02];

fn text(chars: &[c_char]) -> String {
    // SAFETY: the factory writes NUL-terminated strings into these fixed arrays.
    unsafe { CStr::from_ptr(chars.as_ptr()) }.to_string_lossy().into_owned()
}

#[test]
fn the_vst3_factory_lists_and_creates_the_plugin() {
    let path = common::plugin_library();
    // SAFETY: our own plugin library; the symbols have the VST3 module signatures.
    unsafe {
        let library = libloading::Library::new(&path).expect("loading the plugin library");
        let module_entry: libloading::Symbol<unsafe extern "C" fn(*mut c_void) -> bool> =
            library.get(b"ModuleEntry").expect("ModuleEntry export (VST3 on Linux)");
        assert!(module_entry(std::ptr::null_mut()));
        let get_factory: libloading::Symbol<unsafe extern "C" fn() -> *mut c_void> =
            library.get(b"GetPluginFactory").expect("GetPluginFactory export");
        let factory = get_factory();
        assert!(!factory.is_null());
        let vtbl = &**(factory as *mut *const FactoryVtbl);

        let mut info: FactoryInfo = std::mem::zeroed();
        assert_eq!((vtbl.get_factory_info)(factory, &mut info), K_RESULT_OK);
        assert_eq!(text(&info.vendor), "fsdd");

        let classes = (vtbl.count_classes)(factory);
        assert!(classes >= 1);
        let mut class: ClassInfo = std::mem::zeroed();
        assert_eq!((vtbl.get_class_info)(factory, 0, &mut class), K_RESULT_OK);
        assert_eq!(&class.cid, b"fsddSpokenDigit1", "stable VST3 class ID");
        assert_eq!(text(&class.name), "FSDD Spoken Digits");
        assert_eq!(text(&class.category), "Audio Module Class");

        let mut component: *mut c_void = std::ptr::null_mut();
        let result = (vtbl.create_instance)(factory, class.cid.as_ptr(), ICOMPONENT_IID.as_ptr(), &mut component);
        assert_eq!(result, K_RESULT_OK, "createInstance(IComponent)");
        assert!(!component.is_null());
        let component_vtbl = &**(component as *mut *const UnknownVtbl);
        (component_vtbl.release)(component);
        (vtbl.release)(factory);

        let module_exit: libloading::Symbol<unsafe extern "C" fn() -> bool> =
            library.get(b"ModuleExit").expect("ModuleExit export");
        assert!(module_exit());
    }
}
