//! The pipeline's own checks: parsing, typed errors in library terms, the feature-matrix seam
//! against the Gram seam, and the bridges against what they replace.

use faer::Mat;
use imbalance_pipeline::rand::SeedableRng;
use imbalance_pipeline::rand_pcg::Pcg64;
use imbalance_pipeline::{
    Activation, ClassCounts, Error, FeatureMap, FeatureSpec, FlowOptions, GenzOptions, Horizon,
    MeansSpec, Method, MinorityChoice, Mixture, PreparedGram, Sampler, TrainingSet,
    exact_class_errors, mixture_stats, simulate_gmm,
};

/// `n` points in dimension `d`, class `c`'s mean `3 e_c` plus standard normal noise.
fn blobs(per_class: &[usize], d: usize, seed: u64) -> (Mat<f64>, Vec<usize>) {
    use imbalance_pipeline::rand::RngExt;
    let mut rng = Pcg64::seed_from_u64(seed);
    let labels: Vec<usize> = per_class
        .iter()
        .enumerate()
        .flat_map(|(c, &n)| std::iter::repeat_n(c, n))
        .collect();
    let x = Mat::from_fn(labels.len(), d, |i, j| {
        let u: f64 = rng.random_range(-1.0..1.0);
        u * 1.7 + if j == labels[i] { 3.0 } else { 0.0 }
    });
    (x, labels)
}

#[test]
fn feature_specs_parse_and_print() {
    for s in [
        "relu:100", "tanh:5", "erf:2000", "relu:inf", "erf:inf", "identity",
    ] {
        let f: FeatureSpec = s.parse().unwrap();
        assert_eq!(f.to_string(), s);
    }
    assert_eq!(
        "Linear".parse::<FeatureSpec>().unwrap(),
        FeatureSpec::Identity
    );
    for (s, why) in [
        ("relu:0", "must be >= 1"),
        ("sigmoid:3", "unknown activation"),
        ("tanh:inf", "no closed form"),
        ("relu", "no ':P' part"),
    ] {
        let e = s.parse::<FeatureSpec>().unwrap_err();
        assert!(matches!(e, Error::FeatureSpec { .. }), "{s}: {e:?}");
        let msg = e.to_string();
        assert!(msg.contains(why), "{msg}");
        assert!(msg.starts_with("feature map: "), "{msg}");
        assert!(
            !msg.contains("--"),
            "no flag names in library errors: {msg}"
        );
    }
}

#[test]
fn requests_check_their_fields() {
    use imbalance_pipeline::request::{
        MeansKind, MethodSpec, MixtureSpec, ProfileKind, check_method_horizon, horizon,
    };
    use imbalance_pipeline::{Error, Horizon, Profile};
    let field = |e: Error| match e {
        Error::Invalid { parameter, problem } => format!("{parameter}: {problem}"),
        other => panic!("not a field error: {other}"),
    };
    let spec = MixtureSpec {
        counts: None,
        profile: Some(ProfileKind::Exp),
        classes: Some(10),
        n_max: Some(5000),
        ratio: Some(100.0),
        minority_classes: None,
        dim: 100,
        snr: 3.0,
        noise: 1.0,
        means: MeansKind::Orthogonal,
    };
    assert!(matches!(
        spec.profile().unwrap(),
        Profile::Exp { classes: 10, .. }
    ));
    assert_eq!(&spec.counts().unwrap()[..3], &[5000, 2997, 1796]);
    let with = |f: &dyn Fn(&mut MixtureSpec)| {
        let mut s = spec.clone();
        f(&mut s);
        field(s.counts().unwrap_err())
    };
    assert!(with(&|s| s.ratio = None).starts_with("ratio: missing"));
    assert!(with(&|s| s.minority_classes = Some(2)).starts_with("minority_classes: "));
    assert!(with(&|s| s.counts = Some(vec![3, 2])).starts_with("counts: give either"));
    assert!(with(&|s| s.n_max = Some(0)).starts_with("n_max: "));
    assert!(with(&|s| s.snr = f64::NAN).starts_with("snr: NaN is out of range"));
    assert!(with(&|s| s.noise = 1e-9).starts_with("noise: "));
    let mut two = spec.clone();
    two.dim = 5;
    let e = field(
        two.mixture(&mut rand_pcg::Pcg64::seed_from_u64(1))
            .unwrap_err(),
    );
    assert!(e.starts_with("dim: "), "{e}");

    let la = MethodSpec {
        method: "LA".into(),
        tau: Some(2.0),
        ..Default::default()
    };
    assert_eq!(la.method().unwrap().params(), vec![("tau", 2.0)]);
    let e = field(
        MethodSpec {
            tau: Some(101.0),
            ..la.clone()
        }
        .method()
        .unwrap_err(),
    );
    assert_eq!(
        e,
        "tau: 101 is out of range; allowed: a finite number from -100 to 100"
    );
    assert_eq!(horizon("inf").unwrap(), Horizon::Infinite);
    assert_eq!(horizon("1e15").unwrap(), Horizon::Finite(1e15));
    let e = field(horizon("2e15").unwrap_err());
    assert_eq!(
        e,
        "time: 2e15 is out of range; allowed: a number from 1e-9 to 1e15, or inf"
    );
    assert!(field(horizon("soon").unwrap_err()).starts_with("time: "));
    let posthoc = MethodSpec {
        method: "posthoc".into(),
        ..Default::default()
    };
    let e = check_method_horizon(&posthoc.method().unwrap(), Horizon::Infinite).unwrap_err();
    assert!(field(e).starts_with("time: method posthoc is undefined at T = inf"));
}

#[test]
fn requests_run_what_the_functions_run() {
    use imbalance_pipeline::request::{
        MeansKind, MethodSpec, MixtureSpec, PredictRequest, SimulateRequest, TuneRequest,
    };
    use imbalance_pipeline::{Error, Horizon, Method, Sampler, predict_gmm, simulate_gmm};
    let mixture = MixtureSpec {
        counts: Some(vec![40, 10]),
        profile: None,
        classes: None,
        n_max: None,
        ratio: None,
        minority_classes: None,
        dim: 200,
        snr: 3.0,
        noise: 1.0,
        means: MeansKind::Random,
    };
    let la = MethodSpec {
        method: "la".into(),
        tau: Some(0.5),
        ..Default::default()
    };
    let time = Horizon::Finite(1e3);
    let predict = PredictRequest {
        mixture: mixture.clone(),
        method: la.clone(),
        time,
        seed: 4,
    };
    let out = predict.run(None).unwrap();
    let mix = mixture.mixture(&mut Pcg64::seed_from_u64(4)).unwrap();
    let method = Method::La { tau: 0.5 };
    let direct = predict_gmm(&mix, &method, time).unwrap();
    assert_eq!(out.prediction.per_class_error, direct.per_class_error);
    assert_eq!((out.counts, out.method), (vec![40, 10], method));

    let simulate = SimulateRequest {
        mixture: mixture.clone(),
        method: la,
        time,
        seeds: 2,
        seed: 7,
        test_per_class: Some(300),
        sampler: Sampler::Direct,
    };
    let mut done = Vec::new();
    let out = simulate.run(None, |i| done.push(i)).unwrap();
    assert_eq!(done, [0, 1]);
    // Seed i: the means and the training set from seed + i, as simulate_gmm draws them.
    let mut rng = Pcg64::seed_from_u64(8);
    let mix = mixture.mixture(&mut rng).unwrap();
    let flow = imbalance_pipeline::simulation_flow(2);
    let run = simulate_gmm(&mix, &method, time, Sampler::Direct, 300, &flow, &mut rng).unwrap();
    assert_eq!(out.sampled[1], run.sampled_error);
    assert_eq!(out.exact[1], run.exact_error);
    let field = |e: Error| match e {
        Error::Invalid { parameter, .. } => parameter,
        other => panic!("not a field error: {other}"),
    };
    let bad = SimulateRequest {
        seeds: 0,
        ..simulate.clone()
    };
    assert_eq!(field(bad.check(None).unwrap_err()), "seeds");
    let bad = SimulateRequest {
        test_per_class: Some(0),
        ..simulate.clone()
    };
    assert_eq!(field(bad.check(None).unwrap_err()), "test_per_class");
    let bad = SimulateRequest {
        time: Horizon::Finite(1e20),
        ..simulate
    };
    assert_eq!(field(bad.check(None).unwrap_err()), "time");

    let tune = TuneRequest {
        mixture,
        method: "ce".into(),
        objective: Default::default(),
        time,
        seed: 0,
    };
    assert_eq!(field(tune.check(None).unwrap_err()), "method");
    let out = TuneRequest {
        method: "la".into(),
        ..tune
    }
    .run(None)
    .unwrap();
    assert_eq!(out.best.name().as_str(), "la");
    assert_eq!(out.best.params(), vec![("tau", out.tuned.value)]);
}

#[test]
fn default_test_draws_shrink_with_many_classes() {
    // 10000 per class while K^3 x 10000 <= 1e10, then 1e10 / K^3, never below 100.
    let m = imbalance_pipeline::default_test_per_class;
    assert_eq!([m(2), m(10), m(100)], [10_000; 3]);
    assert_eq!([m(200), m(400), m(1000), m(5000)], [1250, 156, 100, 100]);
}

#[test]
fn samplers_parse() {
    assert_eq!("direct".parse::<Sampler>().unwrap(), Sampler::Direct);
    assert_eq!(" Explicit".parse::<Sampler>().unwrap(), Sampler::Explicit);
    let e = "bartlett".parse::<Sampler>().unwrap_err().to_string();
    assert!(
        e.starts_with("sampler: ") && e.contains("direct, explicit"),
        "{e}"
    );
}

#[test]
fn class_counts_resolve_with_typed_errors() {
    let mut rng = Pcg64::seed_from_u64(0);
    let step = ClassCounts::Step {
        n_max: 100,
        ratio: 10.0,
        minority: MinorityChoice::Last(2),
    };
    assert_eq!(step.resolve(4, &mut rng).unwrap(), vec![100, 100, 10, 10]);
    let exp = ClassCounts::Exp {
        n_max: 100,
        ratio: 100.0,
        shuffle: false,
    };
    assert_eq!(exp.resolve(3, &mut rng).unwrap(), vec![100, 10, 1]);
    assert!(matches!(
        ClassCounts::Explicit(vec![1, 2]).resolve(3, &mut rng),
        Err(Error::CountsLength {
            given: 2,
            classes: 3
        })
    ));
    assert!(matches!(
        ClassCounts::Explicit(vec![1, 0, 2]).resolve(3, &mut rng),
        Err(Error::EmptyClass { class: 1 })
    ));
    let none = ClassCounts::Step {
        n_max: 100,
        ratio: 10.0,
        minority: MinorityChoice::Last(0),
    };
    assert!(matches!(
        none.resolve(4, &mut rng),
        Err(Error::NoMinorityClass)
    ));
}

#[test]
fn features_seam_equals_gram_seam() {
    let (x, y) = blobs(&[30, 8], 6, 1);
    let (xt, yt) = blobs(&[50, 50], 6, 2);
    let map = FeatureMap::new(FeatureSpec::Identity, 6, &mut Pcg64::seed_from_u64(0)).unwrap();
    let from_x =
        PreparedGram::from_features(&map, x.as_ref(), y.clone(), xt.as_ref(), yt.clone(), 2)
            .unwrap();
    // Identity features are x / sqrt(d): the Gram matrices are X X^T / d and X_t X^T / d.
    let dot =
        |a: &Mat<f64>, i: usize, j: usize| (0..6).map(|l| a[(i, l)] * x[(j, l)]).sum::<f64>() / 6.0;
    let gram = Mat::from_fn(x.nrows(), x.nrows(), |i, j| dot(&x, i, j));
    let cross = Mat::from_fn(xt.nrows(), x.nrows(), |i, j| dot(&xt, i, j));
    let from_g = PreparedGram::from_gram(gram, y, cross, yt, 2).unwrap();
    assert_eq!(from_x.counts, vec![30, 8]);
    assert_eq!(from_x.test_counts, vec![50, 50]);
    for (a, b) in [(&from_x.gram, &from_g.gram), (&from_x.cross, &from_g.cross)] {
        let diff = (0..a.nrows())
            .flat_map(|i| (0..a.ncols()).map(move |j| (a[(i, j)] - b[(i, j)]).abs()))
            .fold(0.0, f64::max);
        assert!(diff < 1e-12, "{diff}");
    }
    let method = Method::La { tau: 1.0 };
    let h = Horizon::Finite(1e3);
    let ea = from_x.measure(&method, h, &FlowOptions::default()).unwrap();
    let eb = from_g.measure(&method, h, &FlowOptions::default()).unwrap();
    assert_eq!(ea.per_class_error, eb.per_class_error);
    // Well separated blobs: far better than chance.
    assert!(ea.per_class_error.iter().all(|&e| e < 0.25), "{ea:?}");
    assert!(from_x.predict(&method, h).unwrap().is_none());
}

#[test]
fn gram_seam_rejects_mismatched_input() {
    let g = Mat::<f64>::identity(3, 3);
    let c = Mat::<f64>::zeros(2, 3);
    let err = |r: Result<PreparedGram, Error>| r.unwrap_err().to_string();
    let e = err(PreparedGram::from_gram(
        g.clone(),
        vec![0, 1],
        c.clone(),
        vec![0, 1],
        2,
    ));
    assert!(e.starts_with("gram: is 3 x 3"), "{e}");
    let e = err(PreparedGram::from_gram(
        g.clone(),
        vec![0, 1, 1],
        c.clone(),
        vec![0],
        2,
    ));
    assert!(e.starts_with("cross: "), "{e}");
    let e = err(PreparedGram::from_gram(
        g.clone(),
        vec![0, 1, 2],
        c.clone(),
        vec![0, 1],
        2,
    ));
    assert!(e.starts_with("train_labels: label 2"), "{e}");
    assert!(matches!(
        PreparedGram::from_gram(g, vec![0, 0, 0], c, vec![0, 1], 2),
        Err(Error::EmptyClass { class: 1 })
    ));
    let map = FeatureMap::new(
        FeatureSpec::Random {
            activation: Activation::Relu,
            width: 10,
        },
        4,
        &mut Pcg64::seed_from_u64(0),
    )
    .unwrap();
    let (x, y) = blobs(&[3, 3], 5, 0);
    let e = PreparedGram::from_features(&map, x.as_ref(), y.clone(), x.as_ref(), y, 2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("dimension 4"), "{e}");
}

#[test]
fn theory_fit_from_a_moment_sample() {
    let (x, y) = blobs(&[40, 10], 8, 3);
    let (xt, yt) = blobs(&[40, 40], 8, 4);
    let map = FeatureMap::new(
        FeatureSpec::Limit {
            activation: Activation::Relu,
        },
        8,
        &mut Pcg64::seed_from_u64(0),
    )
    .unwrap();
    let mut run = PreparedGram::from_features(&map, x.as_ref(), y, xt.as_ref(), yt, 2).unwrap();
    let (xm, ym) = blobs(&[3, 3], 8, 5);
    assert!(matches!(
        run.fit_theory(&map, xm.as_ref(), &ym),
        Err(Error::TooFewMomentSamples { given: 3 })
    ));
    let (xm, ym) = blobs(&[60, 60], 8, 6);
    run.fit_theory(&map, xm.as_ref(), &ym).unwrap();
    let fit = run.theory.as_ref().unwrap();
    assert_eq!(fit.moment_samples, 60);
    assert_eq!(fit.stats.counts(), &[40, 10]);
    let p = run
        .predict(&Method::Ce, Horizon::Finite(1e3))
        .unwrap()
        .unwrap();
    assert!(p.per_class_error.iter().all(|e| (0.0..=1.0).contains(e)));
}

#[test]
fn exact_errors_match_the_simulation_run_and_the_bridge() {
    let mut rng = Pcg64::seed_from_u64(7);
    let mix = Mixture::new(
        vec![60, 15],
        400,
        MeansSpec::Orthogonal { snr: 3.0 },
        1.0,
        &mut rng,
    )
    .unwrap();
    let method = Method::Ce;
    let h = Horizon::Finite(100.0);
    let run = simulate_gmm(
        &mix,
        &method,
        h,
        Sampler::Direct,
        4000,
        &FlowOptions::default(),
        &mut rng,
    )
    .unwrap();
    let law = run.set.logit_law(&mix, run.trained.a.as_ref());
    let exact = exact_class_errors(&law, &[0.0, 0.0], &GenzOptions::default()).unwrap();
    assert_eq!(exact, run.exact_error);
    // The sampled errors scatter around the exact ones (4000 draws: se < 0.008).
    for (s, e) in run.sampled_error.iter().zip(&exact) {
        assert!((s - e).abs() < 0.04, "{s} vs {e}");
    }
    let stats = mixture_stats(&mix).unwrap();
    assert_eq!(stats.counts(), mix.counts());
    let _: &TrainingSet = &run.set;
}

/// Many classes (K = 24 >= 17): the exact errors come from the shared Monte Carlo and the
/// sampled ones from the blocked parallel sampler, two independent estimates of the same
/// numbers (conditioned draws from a Cholesky factor; plain indicators from an
/// eigendecomposition). Each sampled error has binomial standard error sqrt(e (1 - e) / M),
/// the exact one at most 1e-3: every class within 4 combined standard errors (Bonferroni over
/// 24 classes: 0.15% false alarms).
#[test]
fn many_classes_sampled_errors_match_the_shared_monte_carlo() {
    let mut rng = Pcg64::seed_from_u64(17);
    let counts: Vec<usize> = (0..24).map(|c| if c < 12 { 40 } else { 8 }).collect();
    let mix = Mixture::new(
        counts,
        3000,
        MeansSpec::Orthogonal { snr: 5.0 },
        1.0,
        &mut rng,
    )
    .unwrap();
    let m = 20_000;
    let run = simulate_gmm(
        &mix,
        &Method::La { tau: 1.0 },
        Horizon::Finite(1e4),
        Sampler::Direct,
        m,
        &FlowOptions::default(),
        &mut rng,
    )
    .unwrap();
    for (y, (s, e)) in run.sampled_error.iter().zip(&run.exact_error).enumerate() {
        let se = (e * (1.0 - e) / m as f64 + 1e-6).sqrt();
        assert!(
            (s - e).abs() <= 4.0 * se,
            "class {y}: sampled {s} vs exact {e}"
        );
    }
    assert!(
        run.exact_error.iter().any(|&e| e > 0.05),
        "a non-trivial instance"
    );
}
