// config.json text with float-typed fields written as floats. JSON numbers carry no type, but
// transformers ≥ 5 validates config fields strictly: `final_logit_softcapping: 30` (an int) fails
// where `30.0` loads. JSON.stringify writes integral numbers without a fraction, so the fields that
// transformers types as float are marked while stringifying and given their ".0" afterwards.
const FLOAT_KEYS = new Set([
  'rms_norm_eps',
  'rope_theta',
  'rope_local_base_freq',
  'attn_logit_softcapping',
  'final_logit_softcapping',
  'factor',
  'low_freq_factor',
  'high_freq_factor',
  'long_factor',
  'short_factor',
  'partial_rotary_factor',
  'attention_dropout',
  'initializer_range',
  'resid_pdrop',
  'embd_pdrop',
]);
const MARK = '\u0000float:';

export function configJson(config: Record<string, unknown>): string {
  const mark = (v: unknown): unknown => (typeof v === 'number' && Number.isFinite(v) ? `${MARK}${v}` : Array.isArray(v) ? v.map(mark) : v);
  const text = JSON.stringify(config, (key, value: unknown) => (FLOAT_KEYS.has(key) ? mark(value) : value), 2);
  return text.replace(/"\\u0000float:([^"]+)"/g, (_, n: string) => (/^-?\d+$/.test(n) ? `${n}.0` : n)) + '\n';
}
