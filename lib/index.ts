// Public programmatic API.
export { loadNative, NativeLoadError, addonPath } from './native/load.js';
export { doctorReport, packageVersion, type DoctorReport, type DeviceInfo } from './native/runtime.js';
export type { NativeBinding, NativeTensor, NativeDtype, NativeTypedArray } from './native/binding.js';
