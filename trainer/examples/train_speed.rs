//! Training-step throughput of a layer-width choice: `train_speed WIDTHS THREADS` (random data).

use std::time::Instant;

use tch::{Device, Kind, Tensor, nn};
use trainer::model::{DigitNet, ModelSpec};
use trainer::optim::{Optimizer, OptimizerKind};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let spec = ModelSpec::default()
        .with_widths(args.get(1).map(String::as_str).unwrap_or("16,32,32,64,64"))
        .map_err(anyhow::Error::msg)?;
    let threads: i32 = args.get(2).map(|t| t.parse()).transpose()?.unwrap_or(2);
    tch::set_num_threads(threads);
    let vs = nn::VarStore::new(Device::Cpu);
    let net = DigitNet::new(&vs.root(), spec);
    let mut opt = Optimizer::new(OptimizerKind::Adadelta, &vs, 1.0)?;
    let x = Tensor::randn([64, 1, 64, 64], (Kind::Float, Device::Cpu));
    let y = Tensor::randint(10, [64], (Kind::Int64, Device::Cpu));
    let start = Instant::now();
    let steps = 40;
    for _ in 0..steps {
        let (logits, _) = net.forward(&x, true);
        opt.backward_step(&logits.cross_entropy_for_logits(&y));
    }
    let per_sample_ms = start.elapsed().as_secs_f64() * 1e3 / (steps * 64) as f64;
    println!(
        "widths {:?} threads {threads}: {:.3} ms/sample, {:.1} s per 4800-sample epoch",
        spec,
        per_sample_ms,
        per_sample_ms * 4.8
    );
    Ok(())
}
