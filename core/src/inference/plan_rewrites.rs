//! Rewrites of the typed graph, before tract optimises it, where tract's own lowering is slow on
//! our shapes (issue #14, measured with `forward_pass --profile`).
//!
//! Each rewrite computes exactly what the graph it replaces computes (max and ReLU commute and
//! pick the same float), so a model's outputs do not change by a bit; `tests/plan_rewrites.rs`
//! checks that against tract's plain lowering on real windows.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::array::Slice;
use tract_onnx::tract_core::ops::binary::{BinMiniOp, TypedBinOp};
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, MaxPool, PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::math::{Max, Mul, Sub};
use tract_onnx::tract_core::ops::nn::DataFormat;

/// Applies every rewrite that matches; returns how many nodes were rewritten.
pub fn apply(model: &mut TypedModel) -> TractResult<usize> {
    // In this order: a convolution computed from patches pads inside the patches, so the padding
    // rewrite only sees the convolutions left to tract.
    type NextRewrite = fn(&TypedModel) -> TractResult<Option<TypedModelPatch>>;
    let rewrites: [NextRewrite; 3] = [next_conv_as_matmul_rewrite, next_pool_rewrite, next_conv_padding_rewrite];
    let mut rewritten = 0;
    for next in rewrites {
        while let Some(patch) = next(model)? {
            patch.apply(model)?;
            rewritten += 1;
        }
    }
    Ok(rewritten)
}

/// A 2x2, stride-2, unpadded max-pool over an NCHW f32 tensor, optionally with the ReLU that
/// fed it folded in (`relu(maxpool(x)) == maxpool(relu(x))`, on a quarter of the values).
///
/// tract 0.23 lowers such a pool to `OptMaxPool`, whose 2x2 fast path only covers stride 1:
/// stride 2 falls back to a scalar walk with bounds checks per tap, 22 us of a 118 us forward
/// pass on the shipped model, against ~1 us for the four-row loop here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaxPool2x2 {
    pub relu: bool,
}

impl Op for MaxPool2x2 {
    fn name(&self) -> StaticName {
        "fsdd.MaxPool2x2".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("stride 2, relu folded in: {}", self.relu)])
    }

    op_as_typed_op!();
}

impl EvalOp for MaxPool2x2 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let &[n, c, h, w] = input.shape() else {
            bail!("fsdd.MaxPool2x2 takes NCHW, got shape {:?}", input.shape());
        };
        let (oh, ow) = (h / 2, w / 2);
        let x = input.try_as_plain_ram()?;
        let x = x.as_slice::<f32>()?;
        // Every element is written below.
        let mut output = unsafe { Tensor::uninitialized::<f32>(&[n, c, oh, ow])? };
        {
            let mut out = output.try_as_plain_ram_mut()?;
            let out = out.as_slice_mut::<f32>()?;
            let floor = if self.relu { 0.0 } else { f32::NEG_INFINITY };
            // `if a > b` rather than `f32::max`: no NaN reaches a pool (the MFCC is sanitised),
            // and the plain comparison lets the loop vectorise.
            let max = |a: f32, b: f32| if a > b { a } else { b };
            // Rows first (two contiguous rows, one vector max), then pairs of columns.
            let mut rows_max = vec![0.0f32; 2 * ow];
            for (plane, out_plane) in x.chunks_exact(h * w).zip(out.chunks_exact_mut(oh * ow)) {
                for (oy, out_row) in out_plane.chunks_exact_mut(ow).enumerate() {
                    let top = &plane[2 * oy * w..][..2 * ow];
                    let bottom = &plane[(2 * oy + 1) * w..][..2 * ow];
                    for ((m, &t), &b) in rows_max.iter_mut().zip(top).zip(bottom) {
                        *m = max(t, b);
                    }
                    for (o, pair) in out_row.iter_mut().zip(rows_max.chunks_exact(2)) {
                        *o = max(max(pair[0], pair[1]), floor);
                    }
                }
            }
        }
        Ok(tvec!(output.into_tvalue()))
    }
}

impl TypedOp for MaxPool2x2 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = &inputs[0].shape;
        ensure!(shape.rank() == 4, "fsdd.MaxPool2x2 takes NCHW");
        let mut out: TVec<TDim> = shape.iter().cloned().collect();
        out[2] = out[2].clone() / 2;
        out[3] = out[3].clone() / 2;
        Ok(tvec!(f32::fact(out)))
    }

    as_op!();
}

/// Zero padding of the two spatial axes of an NCHW f32 tensor, optionally with the ReLU that fed
/// it folded in: what a padded convolution reads.
///
/// tract lowers a padded 3x3 convolution to a `Pad` node and a lazy im2col: its `Pad` took 2.7,
/// 2.7 and 5.7 us for our three convolutions, and the ReLU before the third another 3 us, where
/// a zeroed buffer and one copy per row (clamping as it copies) take well under a microsecond.
/// The convolution itself then runs unpadded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ZeroPad2d {
    pub relu: bool,
    /// Rows and columns of zeros before, then after.
    pub before: [usize; 2],
    pub after: [usize; 2],
    /// A per-row normalisation folded in from before the padding, if any.
    pub rows: Option<RowAffine>,
}

/// `(x[.., first + r, ..] - shift[r]) * scale[r]` for the rows kept: a crop of the height axis
/// followed by a per-row subtraction and multiplication by constants, the way the graph does
/// them (same two f32 operations in the same order, so the same bits). This is how the model
/// bakes in its per-band normalisation of the MFCC (`crop -> centre -> scale`: 0.4 + 1.6 us as
/// tract nodes, a few tenths of a microsecond folded into the copy the padding makes anyway).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RowAffine {
    pub first: usize,
    /// The constants as their bit patterns, so the op can derive `Eq` and `Hash` as tract asks.
    pub shift: Vec<u32>,
    pub scale: Vec<u32>,
}

impl RowAffine {
    fn shift(&self, r: usize) -> f32 {
        f32::from_bits(self.shift[r])
    }
    fn scale(&self, r: usize) -> f32 {
        f32::from_bits(self.scale[r])
    }
}

impl Op for ZeroPad2d {
    fn name(&self) -> StaticName {
        "fsdd.ZeroPad2d".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "before {:?}, after {:?}, relu folded in: {}, row normalisation folded in: {}",
            self.before,
            self.after,
            self.relu,
            self.rows.is_some()
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for ZeroPad2d {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let &[n, c, in_h, w] = input.shape() else {
            bail!("fsdd.ZeroPad2d takes NCHW, got shape {:?}", input.shape());
        };
        let (first, h) = match &self.rows {
            Some(rows) if rows.first + rows.shift.len() <= in_h => (rows.first, rows.shift.len()),
            Some(_) => bail!("fsdd.ZeroPad2d: the row normalisation does not fit height {in_h}"),
            None => (0, in_h),
        };
        let (ph, pw) = (h + self.before[0] + self.after[0], w + self.before[1] + self.after[1]);
        let x = input.try_as_plain_ram()?;
        let x = x.as_slice::<f32>()?;
        let mut output = Tensor::zero::<f32>(&[n, c, ph, pw])?;
        {
            let mut out = output.try_as_plain_ram_mut()?;
            let out = out.as_slice_mut::<f32>()?;
            for (plane, out_plane) in x.chunks_exact(in_h * w).zip(out.chunks_exact_mut(ph * pw)) {
                let kept = plane[first * w..][..h * w].chunks_exact(w);
                for (r, (row, out_row)) in kept.zip(out_plane.chunks_exact_mut(pw).skip(self.before[0])).enumerate() {
                    let out_row = &mut out_row[self.before[1]..][..w];
                    match (&self.rows, self.relu) {
                        (Some(rows), relu) => {
                            let (shift, scale) = (rows.shift(r), rows.scale(r));
                            for (o, &v) in out_row.iter_mut().zip(row) {
                                let v = (v - shift) * scale;
                                *o = if !relu || v > 0.0 { v } else { 0.0 };
                            }
                        }
                        (None, true) => {
                            for (o, &v) in out_row.iter_mut().zip(row) {
                                *o = if v > 0.0 { v } else { 0.0 };
                            }
                        }
                        (None, false) => out_row.copy_from_slice(row),
                    }
                }
            }
        }
        Ok(tvec!(output.into_tvalue()))
    }
}

impl TypedOp for ZeroPad2d {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = &inputs[0].shape;
        ensure!(shape.rank() == 4, "fsdd.ZeroPad2d takes NCHW");
        let mut out: TVec<TDim> = shape.iter().cloned().collect();
        if let Some(rows) = &self.rows {
            out[2] = rows.shift.len().to_dim();
        }
        out[2] = out[2].clone() + self.before[0] + self.after[0];
        out[3] = out[3].clone() + self.before[1] + self.after[1];
        Ok(tvec!(f32::fact(out)))
    }

    as_op!();
}

/// The first padded f32 NCHW convolution, as a patch that pads with [`ZeroPad2d`] (taking in
/// the ReLU before it when nothing else reads that ReLU) and convolves unpadded.
fn next_conv_padding_rewrite(model: &TypedModel) -> TractResult<Option<TypedModelPatch>> {
    for node in &model.nodes {
        let Some(conv) = node.op_as::<Conv>() else { continue };
        let spec = &conv.pool_spec;
        let PaddingSpec::Explicit(before, after) = &spec.padding else { continue };
        let input = model.outlet_fact(node.inputs[0])?;
        let fits = conv.q_params.is_none()
            && spec.data_format == DataFormat::NCHW
            && input.datum_type == f32::datum_type()
            && input.shape.rank() == 4
            && before.len() == 2
            && after.len() == 2
            && before.iter().chain(after.iter()).any(|&p| p > 0);
        if !fits {
            continue;
        }
        let mut patch = TypedModelPatch::new(format!("fsdd.ZeroPad2d for {}", node.name));
        let (source, relu) = source_and_relu(model, node.inputs[0])?;
        let (source, rows) = if relu { (source, None) } else { row_affine_before(model, source)? };
        let pad = ZeroPad2d { relu, before: [before[0], before[1]], after: [after[0], after[1]], rows };
        let tap = patch.tap_model(model, source)?;
        let padded = patch.wire_node(format!("{}.pad", node.name), pad, &[tap])?[0];
        let mut inputs = tvec![padded];
        inputs.extend(patch.taps(model, &node.inputs[1..])?);
        let unpadded = Conv { pool_spec: PoolSpec { padding: PaddingSpec::Valid, ..spec.clone() }, ..conv.clone() };
        let wire = patch.wire_node(&node.name, unpadded, &inputs)?;
        patch.shunt_outside(model, node.id.into(), wire[0])?;
        return Ok(Some(patch));
    }
    Ok(None)
}

/// The first `MaxPool` that [`MaxPool2x2`] computes, as a patch that replaces it (and the ReLU
/// before it, when nothing else reads that ReLU).
fn next_pool_rewrite(model: &TypedModel) -> TractResult<Option<TypedModelPatch>> {
    for node in &model.nodes {
        let Some(pool) = node.op_as::<MaxPool>() else { continue };
        let spec = &pool.pool_spec;
        let input = model.outlet_fact(node.inputs[0])?;
        // The batch may be symbolic; the plane must be concrete and even.
        let even = |axis: usize| input.shape.rank() == 4 && input.shape[axis].to_usize().is_ok_and(|d| d % 2 == 0);
        let fits = pool.with_index_outputs.is_none()
            && spec.data_format == DataFormat::NCHW
            && spec.kernel_shape.as_slice() == [2, 2]
            && spec.strides().as_ref() == [2, 2]
            && spec.dilations().as_ref() == [1, 1]
            && matches!(spec.padding, PaddingSpec::Valid)
            && input.datum_type == f32::datum_type()
            && even(2)
            && even(3);
        if !fits {
            continue;
        }
        let mut patch = TypedModelPatch::new(format!("fsdd.MaxPool2x2 for {}", node.name));
        let (source, relu) = source_and_relu(model, node.inputs[0])?;
        let tap = patch.tap_model(model, source)?;
        let wire = patch.wire_node(&node.name, MaxPool2x2 { relu }, &[tap])?;
        patch.shunt_outside(model, node.id.into(), wire[0])?;
        return Ok(Some(patch));
    }
    Ok(None)
}

/// What a folding op reads for `outlet`: the ReLU's input and `true` when `outlet` is a ReLU
/// nothing else reads (the op then applies it), else `outlet` itself and `false`.
fn source_and_relu(model: &TypedModel, outlet: OutletId) -> TractResult<(OutletId, bool)> {
    Ok(match relu_input(model, outlet)? {
        Some(before_relu) => (before_relu, true),
        None => (outlet, false),
    })
}

/// When `outlet` is `max(x, 0)` with a single reader, the `x`.
fn relu_input(model: &TypedModel, outlet: OutletId) -> TractResult<Option<OutletId>> {
    let node = model.node(outlet.node);
    let Some(bin) = node.op_as::<TypedBinOp>() else { return Ok(None) };
    if !bin.0.is::<Max>() || node.outputs[0].successors.len() != 1 || node.inputs.len() != 2 {
        return Ok(None);
    }
    let zero = |o: &OutletId| -> TractResult<bool> {
        let fact = model.outlet_fact(*o)?;
        Ok(fact.konst.as_ref().is_some_and(|k| {
            k.datum_type() == f32::datum_type()
                && k.len() == 1
                && k.try_as_plain_ram().ok().and_then(|v| v.as_slice::<f32>().ok().map(|s| s[0] == 0.0)) == Some(true)
        }))
    };
    Ok(if zero(&node.inputs[1])? {
        Some(node.inputs[0])
    } else if zero(&node.inputs[0])? {
        Some(node.inputs[1])
    } else {
        None
    })
}

/// When `outlet` is `(crop(x) - shift) * scale` with per-row constants (shape `[1, 1, H, 1]`),
/// each step read only by the next, the `x` and the [`RowAffine`]; else `outlet` as it is.
fn row_affine_before(model: &TypedModel, outlet: OutletId) -> TractResult<(OutletId, Option<RowAffine>)> {
    let unchanged = Ok((outlet, None));
    let Some((centred, scale)) = binary_with_row_constant::<Mul>(model, outlet)? else { return unchanged };
    let Some((cropped, shift)) = binary_with_row_constant::<Sub>(model, centred)? else { return unchanged };
    if shift.len() != scale.len() {
        return unchanged;
    }
    let crop = model.node(cropped.node);
    let (source, first) = match crop.op_as::<Slice>() {
        Some(slice) if slice.axis == 2 && crop.outputs[0].successors.len() == 1 => match slice.start.to_usize() {
            Ok(first) => (crop.inputs[0], first),
            Err(_) => (cropped, 0),
        },
        _ => (cropped, 0),
    };
    let height = model.outlet_fact(source)?.shape[2].to_usize();
    if !height.is_ok_and(|h| first + shift.len() <= h) {
        return unchanged;
    }
    let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect();
    Ok((source, Some(RowAffine { first, shift: bits(shift), scale: bits(scale) })))
}

/// When `outlet` is `x OP c` for the mini-op `M`, read only by the next node, with `x` a rank-4
/// f32 tensor and `c` a constant of shape `[1, 1, H, 1]` matching `x`'s height: `x` and `c`.
fn binary_with_row_constant<M: BinMiniOp>(
    model: &TypedModel,
    outlet: OutletId,
) -> TractResult<Option<(OutletId, Vec<f32>)>> {
    let node = model.node(outlet.node);
    let Some(bin) = node.op_as::<TypedBinOp>() else { return Ok(None) };
    if !bin.0.is::<M>() || node.inputs.len() != 2 || node.outputs[0].successors.len() != 1 {
        return Ok(None);
    }
    let (x, c) = (model.outlet_fact(node.inputs[0])?, model.outlet_fact(node.inputs[1])?);
    let Some(konst) = &c.konst else { return Ok(None) };
    let height = x.shape.rank() == 4 && x.shape[2].to_usize().is_ok_and(|h| konst.shape() == [1, 1, h, 1]);
    if !height || x.datum_type != f32::datum_type() || konst.datum_type() != f32::datum_type() {
        return Ok(None);
    }
    let values = konst.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
    Ok(Some((node.inputs[0], values)))
}

/// Stride-1 convolutions whose im2col rows are at least this long (`C_in * kh * kw`) are
/// computed as [`Patches2d`] and a plain matrix product. tract's own lowering gathers the patches
/// inside its matrix product ("lazy im2col", one offset lookup per value: 11 us of the forward
/// pass); over a materialised patch matrix the product runs faster (conv2: 2.6 us of patches +
/// 2.0 us packing + 19.4 us product, against 0.9 us padding + 24.3 us lazy product). For conv1 (9
/// values per row) and the stride-2 conv3 the copies cost more than they save, measured.
pub const MIN_PATCH_ROW: usize = 32;

/// The im2col matrix of an NCHW f32 tensor for a 2D kernel at stride 1, zero padding included,
/// optionally with the ReLU that fed it folded in: `[N, C * kh * kw, OH * OW]`, row
/// `(c * kh + dy) * kw + dx` (the order of an OIHW kernel's flattened rows), column `oy * OW + ox`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Patches2d {
    pub kernel: [usize; 2],
    pub before: [usize; 2],
    pub after: [usize; 2],
    pub relu: bool,
}

impl Patches2d {
    fn output_hw(&self, h: usize, w: usize) -> [usize; 2] {
        let out = |len: usize, axis: usize| len + self.before[axis] + self.after[axis] + 1 - self.kernel[axis];
        [out(h, 0), out(w, 1)]
    }
}

impl Op for Patches2d {
    fn name(&self) -> StaticName {
        "fsdd.Patches2d".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "kernel {:?}, pads {:?}/{:?}, relu folded in: {}",
            self.kernel, self.before, self.after, self.relu
        )])
    }

    op_as_typed_op!();
}

/// `dst.copy_from_slice(&src[..dst.len()])`, with the common row lengths as fixed-size moves:
/// a run-time length is a `memcpy` call, which costs more than these 8-32 floats.
#[inline(always)]
fn copy_run(dst: &mut [f32], src: &[f32]) {
    fn fixed<const L: usize>(dst: &mut [f32], src: &[f32]) {
        let d: &mut [f32; L] = dst.try_into().expect("length checked");
        *d = src[..L].try_into().expect("length checked");
    }
    match dst.len() {
        8 => fixed::<8>(dst, src),
        16 => fixed::<16>(dst, src),
        32 => fixed::<32>(dst, src),
        n => dst.copy_from_slice(&src[..n]),
    }
}

impl EvalOp for Patches2d {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let &[n, c, h, w] = input.shape() else {
            bail!("fsdd.Patches2d takes NCHW, got shape {:?}", input.shape());
        };
        let [oh, ow] = self.output_hw(h, w);
        let [kh, kw] = self.kernel;
        let x = input.try_as_plain_ram()?;
        let x = x.as_slice::<f32>()?;
        // Every plane is padded (and ReLU'd) first, then every tap's row of the output is one
        // contiguous copy per output row. All planes before any copy: copying right after
        // padding read values still in the store buffer with wider loads (a stall per load).
        let (ph, pw) = (h + self.before[0] + self.after[0], w + self.before[1] + self.after[1]);
        let plane_len = ph * pw;
        let mut padded = vec![0.0f32; n * c * plane_len];
        for (plane, dst) in x.chunks_exact(h * w).zip(padded.chunks_exact_mut(plane_len)) {
            let rows = dst.chunks_exact_mut(pw).skip(self.before[0]);
            for (in_row, dst_row) in plane.chunks_exact(w).zip(rows) {
                let dst_row = &mut dst_row[self.before[1]..][..w];
                if self.relu {
                    for (d, &v) in dst_row.iter_mut().zip(in_row) {
                        *d = if v > 0.0 { v } else { 0.0 };
                    }
                } else {
                    dst_row.copy_from_slice(in_row);
                }
            }
        }
        // Every element is written below.
        let mut output = unsafe { Tensor::uninitialized::<f32>(&[n, c * kh * kw, oh * ow])? };
        {
            let mut out = output.try_as_plain_ram_mut()?;
            let out = out.as_slice_mut::<f32>()?;
            let mut rows = out.chunks_exact_mut(oh * ow);
            for plane in padded.chunks_exact(plane_len) {
                for dy in 0..kh {
                    for dx in 0..kw {
                        let row = rows.next().context("patch rows")?;
                        for (oy, out_row) in row.chunks_exact_mut(ow).enumerate() {
                            copy_run(out_row, &plane[(oy + dy) * pw + dx..][..ow]);
                        }
                    }
                }
            }
        }
        Ok(tvec!(output.into_tvalue()))
    }
}

impl TypedOp for Patches2d {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = &inputs[0].shape;
        ensure!(shape.rank() == 4, "fsdd.Patches2d takes NCHW");
        let (c, h, w) = (shape[1].to_usize()?, shape[2].to_usize()?, shape[3].to_usize()?);
        let [oh, ow] = self.output_hw(h, w);
        let k = c * self.kernel[0] * self.kernel[1];
        Ok(tvec!(f32::fact([shape[0].clone(), k.to_dim(), (oh * ow).to_dim()])))
    }

    as_op!();
}

/// The first f32 NCHW convolution with constant weights and a concrete input shape (group 1,
/// stride 1, no dilation, im2col rows of at least [`MIN_PATCH_ROW`]), as a patch that computes it as [`Patches2d`] and a matrix
/// product `[O, K] x [N, K, P]`, plus the bias, plus the ReLU after it when nothing else reads
/// the convolution, all before the reshape to `[N, O, OH, OW]`, so tract fuses bias and ReLU
/// into its matrix-product kernel. The ReLU before it, if only it reads that, goes into the
/// patches.
fn next_conv_as_matmul_rewrite(model: &TypedModel) -> TractResult<Option<TypedModelPatch>> {
    for node in &model.nodes {
        let Some(conv) = node.op_as::<Conv>() else { continue };
        let spec = &conv.pool_spec;
        let input = model.outlet_fact(node.inputs[0])?;
        let weights = model.outlet_fact(node.inputs[1])?.konst.clone();
        let bias = match node.inputs.get(2) {
            Some(b) => match &model.outlet_fact(*b)?.konst {
                Some(k) => Some(k.clone()),
                None => continue,
            },
            None => None,
        };
        let (before, after) = match &spec.padding {
            PaddingSpec::Explicit(b, a) if b.len() == 2 && a.len() == 2 => ([b[0], b[1]], [a[0], a[1]]),
            PaddingSpec::Valid => ([0, 0], [0, 0]),
            _ => continue,
        };
        // Concrete shapes only, batch included: with a symbolic batch (the batched plan that
        // saliency uses) tract's product over the patches ran 2-2.5x slower per window than its
        // own lowering, measured.
        let concrete = input.shape.rank() == 4 && input.shape.iter().all(|d| d.to_usize().is_ok());
        let Some(weights) = weights.filter(|w| w.datum_type() == f32::datum_type() && w.rank() == 4) else {
            continue;
        };
        let (o, k) = (weights.shape()[0], weights.shape()[1..].iter().product::<usize>());
        let fits = conv.q_params.is_none()
            && conv.group == 1
            && conv.kernel_fmt == KernelFormat::OIHW
            && spec.data_format == DataFormat::NCHW
            && spec.kernel_shape.len() == 2
            && spec.dilations().iter().all(|&d| d == 1)
            && input.datum_type == f32::datum_type()
            && concrete
            && k >= MIN_PATCH_ROW
            && spec.strides().iter().all(|&s| s == 1)
            && bias.as_ref().is_none_or(|b| b.datum_type() == f32::datum_type() && b.len() == o);
        if !fits {
            continue;
        }
        let (h, w) = (input.shape[2].to_usize()?, input.shape[3].to_usize()?);
        let (source, relu) = source_and_relu(model, node.inputs[0])?;
        let patches = Patches2d { kernel: [spec.kernel_shape[0], spec.kernel_shape[1]], before, after, relu };
        let [oh, ow] = patches.output_hw(h, w);
        let name = &node.name;
        let mut patch = TypedModelPatch::new(format!("fsdd.Patches2d and a matrix product for {name}"));
        let tap = patch.tap_model(model, source)?;
        let patches = patch.wire_node(format!("{name}.patches"), patches, &[tap])?[0];
        let filters = weights.into_tensor().into_shape(&[o, k])?;
        let filters = patch.add_const(format!("{name}.filters"), filters)?;
        let product = EinSum::new("ok,nkp->nop".parse()?, f32::datum_type());
        let mut wire = patch.wire_node(format!("{name}.matmul"), product, &[filters, patches])?[0];
        if let Some(bias) = bias {
            let bias = patch.add_const(format!("{name}.bias"), bias.into_tensor().into_shape(&[1, o, 1])?)?;
            wire = patch.wire_node(format!("{name}.bias"), tract_onnx::tract_core::ops::math::add(), &[wire, bias])?[0];
        }
        let mut replaced: OutletId = node.id.into();
        if let [only] = &node.outputs[0].successors[..] {
            let next = model.node(only.node);
            if relu_input(model, next.id.into())? == Some(node.id.into()) {
                let zero = patch.add_const(format!("{name}.relu.zero"), tensor3(&[[[0.0f32]]]))?;
                wire =
                    patch.wire_node(format!("{name}.relu"), tract_onnx::tract_core::ops::math::max(), &[wire, zero])?
                        [0];
                replaced = next.id.into();
            }
        }
        let reshape = AxisOp::Reshape(2, tvec![(oh * ow).to_dim()], tvec![oh.to_dim(), ow.to_dim()]);
        wire = patch.wire_node(format!("{name}.reshape"), reshape, &[wire])?[0];
        patch.shunt_outside(model, replaced, wire)?;
        return Ok(Some(patch));
    }
    Ok(None)
}
