;; The exported runtime's matrix-vector product, in WebAssembly's text format with
;; 128-bit SIMD. This text is the source: charrnn/export/wasm_kernel.py assembles it
;; into the bytes that runtime.js loads, and tests/test_wasm_kernel.py checks them.
;;
;;   matvec(W, x, y, bias, rows, cols)    y[r] = bias[r] + sum over c of W[r, c] x[c]
;;
;; Every argument is a byte address in the memory the runtime gives ("env" "memory"),
;; or a count. W is row-major; rows and cols are multiples of 4 (the runtime pads with
;; zeros); bias 0 means none (the runtime never puts data at address 0).
;;
;; Four rows at a time share each load of four floats of x; each row keeps four lanes
;; of partial sums and adds them as (l0 + l1) + (l2 + l3), in float32, as torch's
;; kernels do.
;;
;; Reading it: an instruction in parentheses first computes its inner parentheses, left
;; to right, then applies itself to their results, so (i32.add (local.get $a) (i32.const
;; 4)) is a + 4. Names with $ are this function's parameters and locals, or its loops.
;; (br_if $loop condition) goes back to the top of $loop while condition is not 0.
;; A (local.tee $v ...) stores into $v and also gives the value on.

(module
  (import "env" "memory" (memory 1))
  (func (export "matvec")
    (param $W i32) (param $x i32) (param $y i32) (param $bias i32)
    (param $rows i32) (param $cols i32)
    (local $row_bytes i32) (local $r i32) (local $c i32)
    (local $xv v128)
    (local $w1 i32) (local $w2 i32) (local $w3 i32)
    (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)

    (local.set $row_bytes (i32.shl (local.get $cols) (i32.const 2)))  ;; cols * 4 bytes
    (local.set $r (i32.const 0))
    (loop $each_4_rows  ;; rows r .. r + 3; $W is where row r starts
      (local.set $acc0 (v128.const i32x4 0 0 0 0))
      (local.set $acc1 (v128.const i32x4 0 0 0 0))
      (local.set $acc2 (v128.const i32x4 0 0 0 0))
      (local.set $acc3 (v128.const i32x4 0 0 0 0))
      ;; where rows r + 1, r + 2 and r + 3 start: each one row's bytes after the last
      (local.tee $w1 (i32.add (local.get $W) (local.get $row_bytes)))
      (local.tee $w2 (i32.add (local.get $row_bytes)))  ;; w1 + row_bytes
      (local.set $w3 (i32.add (local.get $row_bytes)))  ;; w2 + row_bytes

      (local.set $c (i32.const 0))
      (loop $each_4_columns  ;; $c: the byte offset of columns c/4 .. c/4 + 3
        (local.set $xv (v128.load (i32.add (local.get $x) (local.get $c))))
        (local.set $acc0 (f32x4.add (local.get $acc0)
          (f32x4.mul (v128.load (i32.add (local.get $W) (local.get $c))) (local.get $xv))))
        (local.set $acc1 (f32x4.add (local.get $acc1)
          (f32x4.mul (v128.load (i32.add (local.get $w1) (local.get $c))) (local.get $xv))))
        (local.set $acc2 (f32x4.add (local.get $acc2)
          (f32x4.mul (v128.load (i32.add (local.get $w2) (local.get $c))) (local.get $xv))))
        (local.set $acc3 (f32x4.add (local.get $acc3)
          (f32x4.mul (v128.load (i32.add (local.get $w3) (local.get $c))) (local.get $xv))))
        (br_if $each_4_columns
          (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 16)))
                    (local.get $row_bytes))))

      ;; y[r + k] = (l0 + l1) + (l2 + l3) of acc k, plus bias[r + k] where there is a bias
      (if (local.get $bias)
        (then
          (f32.store
            (i32.add (local.get $y) (i32.shl (i32.add (local.get $r) (i32.const 0)) (i32.const 2)))
            (f32.add
              (f32.add
                (f32.add (f32x4.extract_lane 0 (local.get $acc0))
                         (f32x4.extract_lane 1 (local.get $acc0)))
                (f32.add (f32x4.extract_lane 2 (local.get $acc0))
                         (f32x4.extract_lane 3 (local.get $acc0))))
              (f32.load (i32.add (local.get $bias)
                                 (i32.shl (i32.add (local.get $r) (i32.const 0)) (i32.const 2)))))))
        (else
          (f32.store
            (i32.add (local.get $y) (i32.shl (i32.add (local.get $r) (i32.const 0)) (i32.const 2)))
            (f32.add
              (f32.add (f32x4.extract_lane 0 (local.get $acc0))
                       (f32x4.extract_lane 1 (local.get $acc0)))
              (f32.add (f32x4.extract_lane 2 (local.get $acc0))
                       (f32x4.extract_lane 3 (local.get $acc0)))))))
      (if (local.get $bias)
        (then
          (f32.store
            (i32.add (local.get $y) (i32.shl (i32.add (local.get $r) (i32.const 1)) (i32.const 2)))
            (f32.add
              (f32.add
                (f32.add (f32x4.extract_lane 0 (local.get $acc1))
                         (f32x4.extract_lane 1 (local.get $acc1)))
                (f32.add (f32x4.extract_lane 2 (local.get $acc1))
                         (f32x4.extract_lane 3 (local.get $acc1))))
              (f32.load (i32.add (local.get $bias)
                                 (i32.shl (i32.add (local.get $r) (i32.const 1)) (i32.const 2)))))))
        (else
          (f32.store
            (i32.add (local.get $y) (i32.shl (i32.add (local.get $r) (i32.const 1)) (i32.const 2)))
            (f32.add
              (f32.add (f32x4.extract_lane 0 (local.get $acc1))
                       (f32x4.extract_lane 1 (local.get $acc1)))
              (f32.add (f32x4.extract_lane 2 (local.get $acc1))
                       (f32x4.extract_lane 3 (local.get $acc1)))))))
      (if (local.get $bias)
        (then
          (f32.store
            (i32.add (local.get $y) (i32.shl (i32.add (local.get $r) (i32.const 2)) (i32.const 2)))
            (f32.add
              (f32.add
                (f32.add (f32x4.extract_lane 0 (local.get $acc2))
                         (f32x4.extract_lane 1 (local.get $acc2)))
                (f32.add (f32x4.extract_lane 2 (local.get $acc2))
                         (f32x4.extract_lane 3 (local.get $acc2))))
              (f32.load (i32.add (local.get $bias)
                                 (i32.shl (i32.add (local.get $r) (i32.const 2)) (i32.const 2)))))))
        (else
          (f32.store
            (i32.add (local.get $y) (i32.shl (i32.add (local.get $r) (i32.const 2)) (i32.const 2)))
            (f32.add
              (f32.add (f32x4.extract_lane 0 (local.get $acc2))
                       (f32x4.extract_lane 1 (local.get $acc2)))
              (f32.add (f32x4.extract_lane 2 (local.get $acc2))
                       (f32x4.extract_lane 3 (local.get $acc2)))))))
      (if (local.get $bias)
        (then
          (f32.store
            (i32.add (local.get $y) (i32.shl (i32.add (local.get $r) (i32.const 3)) (i32.const 2)))
            (f32.add
              (f32.add
                (f32.add (f32x4.extract_lane 0 (local.get $acc3))
                         (f32x4.extract_lane 1 (local.get $acc3)))
                (f32.add (f32x4.extract_lane 2 (local.get $acc3))
                         (f32x4.extract_lane 3 (local.get $acc3))))
              (f32.load (i32.add (local.get $bias)
                                 (i32.shl (i32.add (local.get $r) (i32.const 3)) (i32.const 2)))))))
        (else
          (f32.store
            (i32.add (local.get $y) (i32.shl (i32.add (local.get $r) (i32.const 3)) (i32.const 2)))
            (f32.add
              (f32.add (f32x4.extract_lane 0 (local.get $acc3))
                       (f32x4.extract_lane 1 (local.get $acc3)))
              (f32.add (f32x4.extract_lane 2 (local.get $acc3))
                       (f32x4.extract_lane 3 (local.get $acc3)))))))

      ;; the next four rows: W moves on four rows' bytes, r by 4, while r < rows
      (local.set $W (i32.add (local.get $W) (i32.mul (local.get $row_bytes) (i32.const 4))))
      (br_if $each_4_rows
        (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 4))) (local.get $rows))))))
