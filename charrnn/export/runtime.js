/* charrnn's inference step in plain JavaScript: a model exported by `charrnn export`
 * runs in a browser tab or in Node with no server and no dependency.
 *
 * The step mirrors charrnn/decoding/inference_step.py: layer 0's input product of every symbol
 * (embedding x W_ih + biases) is a table built once at load, so the first layer reads
 * a row instead of multiplying; the other products run through `matvec`, a WebAssembly
 * SIMD kernel where the engine has one (see `kernel`), else a plain loop with four
 * accumulators. The arithmetic between products is float64, stored as float32, as
 * torch's float32 kernels are exact to about 1e-6.
 *
 * A model (see `load`) holds a position like `lm.session` in Python: feed(text),
 * predict(), distribution(), sample({...}), logprob(text), fork(), reset(), undo().
 * What a text is to the model comes from the manifest's `text_format` (Python's
 * `TextFormat.manifest()`): each label's opening, the end symbol, the label ids; the
 * sampling defaults and their bounds from its `sampling` (`charrnn/config.py`).
 * This file is one function, `charrnnRuntime()`, that returns the runtime; an exported
 * module or page holds it beside its model's bundle (`charrnn/export/javascript.py`).
 */
function charrnnRuntime() {
  "use strict";
  const VERSION = 2;  // of the bundles it reads (charrnn/export/bundle.py VERSION)

  // -- bytes in: base64, half floats, int8 rows ------------------------------------------

  function fromBase64(text) {
    if (typeof Buffer !== "undefined") {
      const b = Buffer.from(text, "base64");
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    }
    const raw = atob(text);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  /** Z85 text (5 characters for each 4 bytes, big-endian) -> bytes. */
  function fromZ85(text) {
    const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" +
                     ".-:+=^!/*?&<>()[]{}@%$#";
    const value = new Uint8Array(128);
    for (let i = 0; i < alphabet.length; i++) value[alphabet.charCodeAt(i)] = i;
    const out = new Uint8Array((text.length / 5) * 4);
    for (let i = 0, o = 0; i < text.length; i += 5, o += 4) {
      let word = 0;
      for (let k = 0; k < 5; k++) word = word * 85 + value[text.charCodeAt(i + k)];
      out[o] = word >>> 24;
      out[o + 1] = (word >>> 16) & 255;
      out[o + 2] = (word >>> 8) & 255;
      out[o + 3] = word & 255;
    }
    return out;
  }

  function halfToFloat(h) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) return sign * frac * 5.960464477539063e-8; // 2^-24
    if (exp === 31) return frac ? NaN : sign * Infinity;
    return sign * (1 + frac / 1024) * Math.pow(2, exp - 15);
  }

  /** A tensor of the bundle as float32 (fp16 widened, int8 rows times their scale). */
  function tensor(bytes, spec) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const view = bytes.buffer.slice(bytes.byteOffset + spec.offset,
                                    bytes.byteOffset + spec.offset + spec.bytes);
    if (spec.dtype === "f32") return new Float32Array(view);
    const out = new Float32Array(count);
    if (spec.dtype === "f16") {
      const half = new Uint16Array(view);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(half[i]);
      return out;
    }
    if (spec.dtype === "i8") {
      const q = new Int8Array(view, 0, count);
      const scales = new Float32Array(view, Math.ceil(count / 4) * 4);
      const cols = spec.shape[spec.shape.length - 1];
      for (let i = 0; i < count; i++) out[i] = q[i] * scales[(i / cols) | 0];
      return out;
    }
    throw new Error("unknown tensor type " + spec.dtype);
  }

  // -- the products: WebAssembly SIMD where there is one, else JavaScript ----------------

  /** y[r] = bias[r] + sum_c W[r, c] x[c], W row-major (rows x cols). */
  function matvecJS(W, x, y, rows, cols, bias) {
    const tail = cols & ~3;
    for (let r = 0, base = 0; r < rows; r++, base += cols) {
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      let c = 0;
      for (; c < tail; c += 4) {
        a0 += W[base + c] * x[c];
        a1 += W[base + c + 1] * x[c + 1];
        a2 += W[base + c + 2] * x[c + 2];
        a3 += W[base + c + 3] * x[c + 3];
      }
      for (; c < cols; c++) a0 += W[base + c] * x[c];
      y[r] = (bias ? bias[r] : 0) + (a0 + a1) + (a2 + a3);
    }
  }

  // -- the network -----------------------------------------------------------------------

  const GATES = { lstm: 4, gru: 3, rnn: 1 };

  class Network {
    constructor(manifest, bytes, kernel) {
      const t = (name) => tensor(bytes, manifest.tensors[name]);
      this.cell = manifest.cell;
      this.layers = manifest.layers;
      this.hidden = manifest.hidden;
      this.vocabSize = manifest.vocab_size;
      const n = this.hidden, g = GATES[this.cell] * n, e = manifest.embed;
      this.width = g;
      this.kernel = kernel;
      // layer 0: every symbol's input product (and its biases: for GRU only b_ih,
      // since its reset gate scales W_hn h + b_hn)
      const embed = t("embed.weight"), wih0 = t("rnn.weight_ih_l0");
      const bias0 = t("rnn.bias_ih_l0"), bhh0 = t("rnn.bias_hh_l0");
      this.table = new Float32Array(this.vocabSize * g);
      const row = new Float32Array(g), v = new Float32Array(e);
      for (let s = 0; s < this.vocabSize; s++) {
        v.set(embed.subarray(s * e, (s + 1) * e));
        matvecJS(wih0, v, row, g, e, bias0);
        if (this.cell !== "gru") for (let r = 0; r < g; r++) row[r] += bhh0[r];
        this.table.set(row, s * g);
      }
      this.labels = manifest.label_vectors || 0;
      if (this.labels) {
        const le = t("label_embed.weight");
        this.firstLabel = manifest.text_format.first_label;
        this.labelTable = new Float32Array((this.labels + 1) * g);
        for (let k = 1; k <= this.labels; k++) {
          v.set(le.subarray(k * e, (k + 1) * e));
          matvecJS(wih0, v, row, g, e, null);
          this.labelTable.set(row, k * g);
        }
      }
      this.whh = [], this.wih = [], this.bih = [], this.bhh = [];
      for (let k = 0; k < this.layers; k++) {
        this.whh.push(kernel.matrix(t("rnn.weight_hh_l" + k), g, n));
        this.bhh.push(this.cell === "gru" ? kernel.vectorOf(t("rnn.bias_hh_l" + k)) : null);
        if (k > 0) {
          this.wih.push(kernel.matrix(t("rnn.weight_ih_l" + k), g, n));
          const b = t("rnn.bias_ih_l" + k);
          if (this.cell !== "gru") {
            const bh = t("rnn.bias_hh_l" + k);
            for (let r = 0; r < g; r++) b[r] += bh[r];
          }
          this.bih.push(kernel.vectorOf(b));
        }
      }
      this.head = kernel.matrix(t("head.weight"), this.vocabSize, n);
      this.headBias = kernel.vectorOf(t("head.bias"));
      // label adapters: each label's own correction to the head (`LabelHeads` in Python)
      this.labelHeads = manifest.tensors["label_heads.weight"] ? t("label_heads.weight") : null;
      this.labelHeadBias = this.labelHeads ? t("label_heads.bias") : null;
      this.delta = new Float32Array(this.vocabSize);
      this.gi = kernel.vector(g);
      this.gh = kernel.vector(g);
      this.x = kernel.vector(n);
      this.logits = kernel.vector(this.vocabSize);
    }

    zeroState() {
      const layers = [];
      for (let k = 0; k < this.layers; k++) {
        layers.push({ h: new Float32Array(this.hidden),
                      c: this.cell === "lstm" ? new Float32Array(this.hidden) : null });
      }
      return { layers, label: 0 };
    }

    /** Read symbol `id` from `state`: returns the next symbol's log-probabilities
     * (Float64Array) and a new state (the given one is never changed). The label in
     * force (its vector added at every step): a label symbol's own, else the one the
     * state carries (0: none yet), as `TextFormat.label_in_force` in Python. */
    step(id, state) {
      const n = this.hidden, cell = this.cell, kernel = this.kernel;
      const label = this.labels && id >= this.firstLabel ? id - this.firstLabel + 1
                                                         : state.label;
      const next = { layers: [], label };
      const gi = this.gi.view, gh = this.gh.view;
      let input = null;
      for (let k = 0; k < this.layers; k++) {
        const prev = state.layers[k];
        const h = new Float32Array(n), c = cell === "lstm" ? new Float32Array(n) : null;
        if (k === 0) {
          gi.set(this.table.subarray(id * this.width, (id + 1) * this.width));
          if (label && this.labels) {
            const lt = this.labelTable, at = label * this.width;
            for (let r = 0; r < this.width; r++) gi[r] += lt[at + r];
          }
        } else {
          this.x.view.set(input);
          kernel.matvec(this.wih[k - 1], this.x, this.gi, this.bih[k - 1]);
        }
        this.x.view.set(prev.h);
        if (cell === "gru") {
          kernel.matvec(this.whh[k], this.x, this.gh, this.bhh[k]);
          for (let j = 0; j < n; j++) {
            const r = sigmoid(gi[j] + gh[j]);
            const z = sigmoid(gi[n + j] + gh[n + j]);
            const cand = Math.tanh(gi[2 * n + j] + r * gh[2 * n + j]);
            h[j] = (1 - z) * cand + z * prev.h[j];
          }
        } else {
          kernel.matvec(this.whh[k], this.x, this.gh, null);
          if (cell === "lstm") {
            for (let j = 0; j < n; j++) {
              const i = sigmoid(gi[j] + gh[j]);
              const f = sigmoid(gi[n + j] + gh[n + j]);
              const g = Math.tanh(gi[2 * n + j] + gh[2 * n + j]);
              const o = sigmoid(gi[3 * n + j] + gh[3 * n + j]);
              c[j] = f * prev.c[j] + i * g;
              h[j] = o * Math.tanh(c[j]);
            }
          } else {
            for (let j = 0; j < n; j++) h[j] = Math.tanh(gi[j] + gh[j]);
          }
        }
        next.layers.push({ h, c });
        input = h;
      }
      this.x.view.set(input);
      kernel.matvec(this.head, this.x, this.logits, this.headBias);
      if (label && this.labelHeads) {
        const v = this.vocabSize, logits = this.logits.view, delta = this.delta;
        matvecJS(this.labelHeads.subarray(label * v * n, (label + 1) * v * n), input, delta,
                 v, n, this.labelHeadBias.subarray(label * v, (label + 1) * v));
        for (let r = 0; r < v; r++) logits[r] += delta[r];
      }
      return { logprobs: logSoftmax(this.logits.view), state: next };
    }
  }

  function sigmoid(v) {
    return 1 / (1 + Math.exp(-v));
  }

  function logSoftmax(logits) {
    let max = -Infinity;
    for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
    let sum = 0;
    for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
    const shift = max + Math.log(sum);
    const out = new Float64Array(logits.length);
    for (let i = 0; i < logits.length; i++) out[i] = logits[i] - shift;
    return out;
  }

  // -- kernels: where a product's matrix and vectors live --------------------------------

  /** Plain JavaScript: matrices and vectors are Float32Arrays. */
  function scriptKernel() {
    return {
      name: "js",
      matrix: (data, rows, cols) => ({ data, rows, cols }),
      vector: (size) => ({ view: new Float32Array(size) }),
      vectorOf: (array) => ({ view: array }),
      matvec(m, x, y, bias) {
        matvecJS(m.data, x.view, y.view, m.rows, m.cols, bias ? bias.view : null);
      },
    };
  }

  /** WebAssembly SIMD (`charrnn/export/wasm_kernel.py`): matrices and vectors live in
   * the module's memory, rows and columns padded with zeros to multiples of 4; address
   * 0 is never used, so it can mean "no bias". None where the engine lacks SIMD. */
  function simdKernel(wasm) {
    if (!wasm || typeof WebAssembly !== "object") return null;
    const bytes = typeof wasm === "string" ? fromBase64(wasm) : wasm;
    let instance;
    const memory = new WebAssembly.Memory({ initial: 1 });
    try {
      if (!WebAssembly.validate(bytes)) return null;
      instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    } catch (e) {
      return null;
    }
    const product = instance.exports.matvec;
    const pad = (n) => Math.ceil(n / 4) * 4;
    let top = 64;
    function alloc(floats) {
      const at = top;
      top += pad(floats) * 4;
      const more = Math.ceil(top / 65536) - memory.buffer.byteLength / 65536;
      if (more > 0) memory.grow(more);
      return at;
    }
    function vector(ptr, size) {
      let cached = null;
      return {
        ptr, size,
        get view() { // a grown memory has a new buffer: views are made again
          if (!cached || cached.buffer !== memory.buffer) {
            cached = new Float32Array(memory.buffer, ptr, size);
          }
          return cached;
        },
      };
    }
    return {
      name: "wasm-simd",
      matrix(data, rows, cols) {
        const pr = pad(rows), pc = pad(cols), ptr = alloc(pr * pc);
        const into = new Float32Array(memory.buffer, ptr, pr * pc);
        for (let r = 0; r < rows; r++) into.set(data.subarray(r * cols, (r + 1) * cols), r * pc);
        return { ptr, rows: pr, cols: pc };
      },
      vector: (size) => vector(alloc(size), size),
      vectorOf(array) {
        const v = vector(alloc(array.length), array.length);
        v.view.set(array);
        return v;
      },
      matvec(m, x, y, bias) {
        product(m.ptr, x.ptr, y.ptr, bias ? bias.ptr : 0, m.rows, m.cols);
      },
    };
  }

  // -- text: the vocabulary --------------------------------------------------------------

  class Vocab {
    constructor(spec, format) {
      this.level = spec.level;
      this.chars = spec.level === "byte" ? null : Array.from(spec.chars);
      this.textSize = spec.level === "byte" ? 256 : this.chars.length;
      this.endId = format.end_id;
      this.labels = format.labels;
      this.firstLabel = format.first_label;
      this.index = new Map();
      if (this.chars) this.chars.forEach((c, i) => this.index.set(c, i));
      this.encoder = typeof TextEncoder !== "undefined" ? new TextEncoder() : null;
    }

    /** The ids of `text`; a character the model never saw throws, naming it. */
    encode(text, field) {
      if (this.level === "byte") return Array.from(this.encoder.encode(text));
      const ids = [];
      const unknown = [];
      for (const ch of text) {
        const i = this.index.get(ch);
        if (i === undefined) { if (!unknown.includes(ch)) unknown.push(ch); }
        else ids.push(i);
      }
      if (unknown.length) {
        throw new Error(`${field || "text"} contains ${unknown.length} character(s) the ` +
                        "model never saw: " + unknown.slice(0, 10).map((c) => JSON.stringify(c))
                          .join(", "));
      }
      return ids;
    }

    labelId(name) {
      const k = this.labels.indexOf(name);
      if (k < 0) {
        throw new Error(this.labels.length
          ? `label ${JSON.stringify(name)} is not one the model learned; it knows ` +
            this.labels.join(", ")
          : "this model was trained without labels; leave `label` out");
      }
      return this.firstLabel + k;
    }

    /** The name of label id `id` (null for null). */
    labelName(id) {
      return id === null ? null : this.labels[id - this.firstLabel];
    }

    /** Text of ids: end symbols and labels stand for nothing; a byte-level model's bytes
     * that are not UTF-8 show as U+FFFD, as `charrnn sample` prints them. */
    decode(ids) {
      const kept = ids.filter((i) => i < this.textSize);
      if (this.level !== "byte") return kept.map((i) => this.chars[i]).join("");
      return utf8(new Uint8Array(kept), false);
    }

    /** A decoder of ids as they come: each piece as soon as it is whole. */
    stream() {
      if (this.level !== "byte") {
        return { feed: (i) => (i < this.textSize ? this.chars[i] : ""), flush: () => "" };
      }
      const dec = new TextDecoder("utf-8", { fatal: false });
      return {
        feed: (i) => (i < 256 ? dec.decode(new Uint8Array([i]), { stream: true }) : ""),
        flush: () => dec.decode(),
      };
    }
  }

  function utf8(bytes) {
    return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  }

  // -- sampling: the rules of charrnn/decoding/sampling.py -------------------------------

  /** Log-probabilities -> the logits to draw from (penalty, temperature, top-k, top-p). */
  function adjust(logprobs, o, seen) {
    const v = logprobs.length;
    let logits = Float64Array.from(logprobs);
    if (seen && o.repetitionPenalty !== 1) {
      for (let i = 0; i < v; i++) if (seen[i]) logits[i] *= o.repetitionPenalty;
    }
    if (o.temperature > 0 && o.temperature !== 1) {
      const t = Math.fround(o.temperature);
      for (let i = 0; i < v; i++) logits[i] = Math.fround(logits[i] / t);
    }
    if (o.topK && o.topK < v) {
      const kth = Array.from(logits).sort((a, b) => b - a)[o.topK - 1];
      for (let i = 0; i < v; i++) if (logits[i] < kth) logits[i] = -Infinity;
    }
    if (o.topP !== undefined && o.topP !== null && o.topP < 1) {
      const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
      const top = logits[order[0]];
      const probs = order.map((i) => Math.exp(logits[i] - top));
      const total = probs.reduce((a, b) => a + b, 0);
      let before = 0;
      for (let j = 0; j < order.length; j++) {
        const p = probs[j] / total;
        if (before >= o.topP) logits[order[j]] = -Infinity;
        before += p;
      }
    }
    return logits;
  }

  /** One id: the argmax, or the inverse of the cumulative distribution at a uniform. */
  function draw(logits, greedy, uniform) {
    if (greedy) {
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
      return best;
    }
    let max = -Infinity;
    for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
    const cdf = new Float64Array(logits.length);
    let run = 0;
    for (let i = 0; i < logits.length; i++) {
      run += Math.fround(Math.exp(logits[i] - max));
      cdf[i] = run;
    }
    const u = (1 - uniform) * run;
    for (let i = 0; i < cdf.length; i++) if (cdf[i] >= u) return i;
    return logits.length - 1;
  }

  /** Uniforms in [0, 1): numpy's `default_rng(seed).random()`, so a seed draws what it
   * draws in `charrnn sample --seed` (without one, Math.random). */
  function uniforms(seed) {
    if (seed === undefined || seed === null) return Math.random;
    if (!(Number.isSafeInteger(seed) && seed >= 0)) {
      throw new Error("seed must be a whole number >= 0");
    }
    return pcg64Uniforms(seed);
  }

  /** numpy's PCG64 (XSL-RR 128/64) seeded through its SeedSequence, and its doubles:
   * the top 53 bits of each 64-bit output. */
  function pcg64Uniforms(seed) {
    const M32 = 0xffffffffn, M64 = (1n << 64n) - 1n, M128 = (1n << 128n) - 1n;
    const mul32 = (a, b) => Number((BigInt(a) * BigInt(b)) & M32);
    // numpy's SeedSequence(seed): a pool of four 32-bit words, then 8 words of state
    const words = [];
    let rest = BigInt(seed);
    do { words.push(Number(rest & M32)); rest >>= 32n; } while (rest > 0n);
    let hashConst = 0x43b0d7e5;
    const hashmix = (value) => {
      value = (value ^ hashConst) >>> 0;
      hashConst = mul32(hashConst, 0x931e8875);
      value = mul32(value, hashConst);
      return (value ^ (value >>> 16)) >>> 0;
    };
    const mix = (x, y) => {
      const r = (mul32(0xca01f9dd, x) - mul32(0x4973f715, y)) >>> 0;
      return (r ^ (r >>> 16)) >>> 0;
    };
    const pool = [0, 0, 0, 0].map((_, i) => hashmix(i < words.length ? words[i] : 0));
    for (let s = 0; s < 4; s++) {
      for (let d = 0; d < 4; d++) if (s !== d) pool[d] = mix(pool[d], hashmix(pool[s]));
    }
    for (let s = 4; s < words.length; s++) {
      for (let d = 0; d < 4; d++) pool[d] = mix(pool[d], hashmix(words[s]));
    }
    let hc = 0x8b51f9dd;
    const state32 = [];
    for (let i = 0; i < 8; i++) {
      let v = (pool[i % 4] ^ hc) >>> 0;
      hc = mul32(hc, 0x58f38ded);
      v = mul32(v, hc);
      state32.push((v ^ (v >>> 16)) >>> 0);
    }
    const u64 = (k) => (BigInt(state32[2 * k + 1]) << 32n) | BigInt(state32[2 * k]);
    const initstate = (u64(0) << 64n) | u64(1), initseq = (u64(2) << 64n) | u64(3);
    const MULT = 0x2360ED051FC65DA44385DF649FCCF645n;
    const inc = ((initseq << 1n) | 1n) & M128;
    let state = 0n;
    const step = () => { state = (state * MULT + inc) & M128; };
    step(); state = (state + initstate) & M128; step();
    return () => {
      step();
      const hi = state >> 64n, lo = state & M64;
      const value = hi ^ lo, rot = state >> 122n;
      const out = ((value >> rot) | (value << ((64n - rot) & 63n))) & M64;
      return Number(out >> 11n) / 9007199254740992;
    };
  }

  // -- sampling options: defaults and bounds from the manifest ---------------------------

  /** A Python setting's name as a JavaScript option: top_k -> topK. */
  function camel(name) {
    return name.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
  }

  /** Whether `value` is within `bound`: charrnn/config.py `Bound.holds`. */
  function holds(bound, value) {
    if (value === null) return bound.unset;
    if (typeof value !== "number" || (bound.whole && !Number.isInteger(value))) return false;
    if (bound.zero && value === 0) return true;
    return (bound.low === null || value >= bound.low) &&
           (bound.above === null || value > bound.above) &&
           (bound.high === null || value <= bound.high) &&
           !(bound.finite && !Number.isFinite(value));
  }

  /** `options` over the defaults of `rules` (a manifest's `sampling`; an option given as
   * undefined keeps its default), each checked against its bound: what Python refuses
   * is refused, in the same words. */
  function samplingOptions(rules, options) {
    const o = { stop: [], seed: null, random: null };
    for (const [name, rule] of Object.entries(rules)) o[camel(name)] = rule.default;
    for (const [key, value] of Object.entries(options || {})) if (value !== undefined) o[key] = value;
    for (const [name, rule] of Object.entries(rules)) {
      const value = o[camel(name)];
      if (!holds(rule, value)) throw new Error(`${camel(name)} ${rule.words}, not ${value}`);
    }
    return o;
  }

  // -- the model: a position in a text, as lm.session ------------------------------------

  class Model {
    constructor(net, vocab, manifest, start) {
      this.net = net;
      this.vocab = vocab;
      this.manifest = manifest;
      this.format = manifest.text_format;
      this.labels = vocab.labels.slice();
      this.defaultLabel = vocab.labelName(this.format.default_label);
      this._start = start || null;
      this.label = null;
      if (!start) this.reset();
    }

    /** Back to the start of a text (with `label`, in that label's style); it can be
     * undone, as a session's reset. */
    reset(label) {
      const previous = this._point;
      this.label = label === undefined ? null : label;
      const opening = this._opening();
      let state = this.net.zeroState();
      let logprobs = this.manifest.first_logprobs
        ? Float64Array.from(this.manifest.first_logprobs) : null;
      for (const id of opening) ({ logprobs, state } = this.net.step(id, state));
      // what a repetition penalty counts besides the text: a label asked for by name
      const asked = this.label === null || !this.labels.length ? []
                                                               : [this.vocab.labelId(this.label)];
      this._point = { ids: { store: [], length: 0 }, state, logprobs, score: 0,
                      label: this.label, asked };
      this._history = this._history || [];
      if (previous) this._history.push(previous);
      return this;
    }

    /** Drop the undo history (a page that never undoes keeps its memory flat). */
    forget() {
      this._history = [];
      return this;
    }

    /** The ids read from the zero state before a text's first character: the
     * manifest's opening of the label asked for ("" for none; an unknown label throws). */
    _opening() {
      if (this.label !== null) this.vocab.labelId(this.label);  // throws for a stranger
      return this.format.openings[this.label === null ? "" : this.label];
    }

    /** `options` as `sample` takes them: over the defaults, checked (a bad one throws,
     * naming it). */
    options(options) {
      return samplingOptions(this.manifest.sampling, options);
    }

    get text() { return this.vocab.decode(idsOf(this._point)); }
    get score() { return this._point.score; }

    /** Read `text` and keep it; returns the model. */
    feed(text) {
      return this.feedIds(this.vocab.encode(text, "text"));
    }

    /** `feed` of ids as the vocabulary numbers them (`vocab.encode(text)`). */
    feedIds(ids) {
      for (const id of ids) {
        if (!(Number.isInteger(id) && id >= 0 && id < this.net.vocabSize)) {
          throw new Error(`no symbol ${id} in a vocabulary of ${this.net.vocabSize}`);
        }
      }
      if (ids.length) {
        this._history.push(this._point);
        this._point = this._advance(this._point, ids);
      }
      return this;
    }

    _advance(point, ids) {
      let { state, logprobs, score } = point;
      for (const id of ids) {
        score += logprobs[id];
        ({ logprobs, state } = this.net.step(id, state));
      }
      return { ids: appended(point.ids, ids), state, logprobs, score, label: point.label,
               asked: point.asked };
    }

    /** Log-probability in nats of `text` read from here (the position is kept). */
    logprob(text) {
      return this._advance(this._point, this.vocab.encode(text, "text")).score -
             this._point.score;
    }

    /** The next symbol's log-probabilities, one per id (Float64Array). */
    logprobs() { return Float64Array.from(this._point.logprobs); }

    /** The next character's probabilities, as {character: probability}. */
    distribution() {
      const out = {};
      const lp = this._point.logprobs;
      for (let i = 0; i < this.vocab.textSize; i++) {
        const key = this.vocab.level === "byte" ? String(i) : this.vocab.chars[i];
        out[key] = Math.exp(lp[i]);
      }
      return out;
    }

    /** The `top` likeliest next characters, [[character, probability], ...]. */
    predict(top) {
      const lp = this._point.logprobs;
      const order = Array.from(lp.keys()).filter((i) => i < this.vocab.textSize)
        .sort((a, b) => lp[b] - lp[a]);
      return order.slice(0, top || 5).map((i) => [
        this.vocab.level === "byte" ? this.vocab.decode([i]) : this.vocab.chars[i],
        Math.exp(lp[i])]);
    }

    /** Continue the text: {length, temperature, topK, topP, repetitionPenalty, stop,
     * seed, random}. Returns the new text (kept in the model). `random` is a function
     * of uniforms in [0, 1) (default: seeded by `seed`, else Math.random). */
    sample(options) {
      let text = "";
      for (const piece of this.stream(options)) text += piece;
      return text;
    }

    /** `sample` as it is written: a generator of pieces of text (a byte-level model's
     * character once its bytes are whole). The model moves with each piece, so a
     * caller that stops early keeps what was written; `stopped` then says why the
     * generation ended: "length", "stop" (a stop string), "end" (a document's end). */
    *stream(options) {
      const o = this.options(options);
      const random = o.random || uniforms(o.seed);
      const stops = (Array.isArray(o.stop) ? o.stop : [o.stop]).filter((s) => s)
        .map((s) => this.vocab.encode(s, "stop"));
      const ends = this.format.end_id;
      const seen = o.repetitionPenalty !== 1 ? new Uint8Array(this.net.vocabSize) : null;
      if (seen) for (const i of this._point.asked.concat(idsOf(this._point))) seen[i] = 1;
      const pieces = this.vocab.stream();
      const made = [];
      const before = this._point;
      this.stopped = "length";
      for (let step = 0; step < o.length; step++) {
        const logits = adjust(this._point.logprobs, o, seen);
        const id = draw(logits, o.temperature === 0, o.temperature === 0 ? 0 : random());
        if (!made.length) this._history.push(before);  // only a change can be undone
        made.push(id);
        if (seen) seen[id] = 1;
        this._point = this._advance(this._point, [id]);
        if (ends !== null && id >= ends) { this.stopped = "end"; break; }  // read, as Python
        const piece = pieces.feed(id);
        if (piece) yield piece;
        if (stops.some((s) => endsWith(made, s))) { this.stopped = "stop"; break; }
      }
      const tail = pieces.flush();
      if (tail) yield tail;
    }

    /** `k` continuations of `length` characters, not taken (Tab suggestions). */
    suggest(k, options) {
      const out = [];
      const o = Object.assign({}, options || {});
      const random = o.random || uniforms(o.seed);
      for (let j = 0; j < k; j++) out.push(this.fork().sample(Object.assign({}, o, { random })));
      return out;
    }

    /** An independent copy at the same position. */
    fork() {
      const copy = new Model(this.net, this.vocab, this.manifest, true);
      copy.label = this.label;
      copy._point = this._point;
      copy._history = this._history.slice();
      return copy;
    }

    /** Take back the last `n` feeds or samples; returns how many were taken back. */
    undo(n) {
      let count = 0;
      for (; count < (n === undefined ? 1 : n) && this._history.length; count++) {
        this._point = this._history.pop();
      }
      this.label = this._point.label;
      return count;
    }
  }

  /** `ids` with `more` after them, sharing one growing array between a point and the
   * points after it (a fork that writes on from an earlier point copies first). */
  function appended(ids, more) {
    const store = ids.store || [];
    const n = ids.length;
    let out = store;
    if (store.length !== n) out = store.slice(0, n);
    for (const id of more) out.push(id);
    const view = { store: out, length: out.length };
    return view;
  }

  function idsOf(point) {
    return point.ids.store ? point.ids.store.slice(0, point.ids.length) : [];
  }

  function endsWith(ids, tail) {
    if (tail.length > ids.length) return false;
    for (let i = 0; i < tail.length; i++) {
      if (ids[ids.length - tail.length + i] !== tail[i]) return false;
    }
    return true;
  }

  /** A model from an exported bundle: {manifest, weights (base64)}. `options.kernel`:
   * "js" for the plain loop; default the fastest this engine has. */
  function load(bundle, options) {
    const manifest = bundle.manifest;
    if (!manifest || manifest.format !== "charrnn-model") {
      throw new Error("not a charrnn model bundle");
    }
    if (manifest.version !== VERSION) {
      throw new Error(`a version ${manifest.version} bundle; this runtime reads version ` +
                      `${VERSION} (export the model again)`);
    }
    const bytes = bundle.weights_z85 !== undefined ? fromZ85(bundle.weights_z85)
      : typeof bundle.weights === "string" ? fromBase64(bundle.weights) : bundle.weights;
    const want = (options && options.kernel) || "auto";
    const kernel = want === "js" ? scriptKernel()
                                 : (simdKernel(bundle.kernel) || scriptKernel());
    const net = new Network(manifest, bytes, kernel);
    return new Model(net, new Vocab(manifest.vocab, manifest.text_format), manifest);
  }

  return { load, uniforms, adjust, draw, samplingOptions, version: VERSION };
}
