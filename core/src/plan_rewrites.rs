//! Rewrites of the typed graph, before tract optimises it, where tract's own lowering is slow on
//! our shapes (issue #14, measured with `forward_pass --profile`).
//!
//! Each rewrite computes exactly what the graph it replaces computes (max and ReLU commute and
//! pick the same float), so a model's outputs do not change by a bit; `tests/plan_rewrites.rs`
//! checks that against tract's plain lowering on real windows.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cnn::{Conv, MaxPool, PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::array::Slice;
use tract_onnx::tract_core::ops::binary::BinMiniOp;
use tract_onnx::tract_core::ops::math::{Max, Mul, Sub};
use tract_onnx::tract_core::ops::nn::DataFormat;

/// Applies every rewrite that matches; returns how many nodes were rewritten.
pub fn apply(model: &mut TypedModel) -> TractResult<usize> {
    let mut rewritten = 0;
    while let Some(patch) = next_pool_rewrite(model)? {
        patch.apply(model)?;
        rewritten += 1;
    }
    while let Some(patch) = next_conv_padding_rewrite(model)? {
        patch.apply(model)?;
        rewritten += 1;
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
        let (source, relu) = match relu_input(model, node.inputs[0])? {
            Some(before_relu) => (before_relu, true),
            None => (node.inputs[0], false),
        };
        let (source, rows) = if relu { (source, None) } else { row_affine_before(model, source)? };
        let pad = ZeroPad2d { relu, before: [before[0], before[1]], after: [after[0], after[1]], rows };
        let tap = patch.tap_model(model, source)?;
        let padded = patch.wire_node(format!("{}.pad", node.name), pad, &[tap])?[0];
        let mut inputs = tvec![padded];
        for other in &node.inputs[1..] {
            inputs.push(patch.tap_model(model, *other)?);
        }
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
        let (source, relu) = match relu_input(model, node.inputs[0])? {
            Some(before_relu) => (before_relu, true),
            None => (node.inputs[0], false),
        };
        let tap = patch.tap_model(model, source)?;
        let wire = patch.wire_node(&node.name, MaxPool2x2 { relu }, &[tap])?;
        patch.shunt_outside(model, node.id.into(), wire[0])?;
        return Ok(Some(patch));
    }
    Ok(None)
}

/// When `outlet` is `max(x, 0)` read by nothing but the pool, the `x`.
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
fn binary_with_row_constant<M: BinMiniOp>(model: &TypedModel, outlet: OutletId) -> TractResult<Option<(OutletId, Vec<f32>)>> {
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
