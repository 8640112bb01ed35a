//! tract forward time of an untrained network of the given widths: `arch_probe WIDTHS...`
//! (weights do not change tract's speed, only the shapes do).

use std::time::Instant;

use tch::{Device, nn};
use trainer::export::write_onnx;
use trainer::model::{DigitNet, ModelSpec, parameter_count};
use trainer::tract_model::TractModel;

fn main() -> anyhow::Result<()> {
    for widths in std::env::args().skip(1) {
        // `WIDTHS` or `WIDTHS@COEFFICIENTS`.
        let (w, k) = widths.split_once('@').unwrap_or((&widths, "64"));
        let spec = ModelSpec { coefficients: k.parse()?, ..ModelSpec::default() }
            .with_widths(w)
            .map_err(anyhow::Error::msg)?;
        let vs = nn::VarStore::new(Device::Cpu);
        let net = DigitNet::new(&vs.root(), spec);
        let path = std::env::temp_dir().join(format!("arch-{widths}.onnx"));
        let bytes = write_onnx(&net, "probe", &path)?;
        let model = TractModel::load(&path)?;
        let mfcc = vec![0.5f32; 4096];
        let mut times: Vec<f64> = (0..3000)
            .map(|_| {
                let s = Instant::now();
                std::hint::black_box(model.run(&mfcc).unwrap());
                s.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "{widths}: {} params, {bytes} bytes, tract forward median {:.1} us, p10 {:.1} us",
            parameter_count(&vs),
            times[1500],
            times[300]
        );
    }
    Ok(())
}
