//! Sentence embeddings from all-MiniLM-L6-v2 with candle, checked against
//! an independent numpy forward pass over the same safetensors file.

mod common;

use mercator_models::defaults;
use mercator_models::embed::{cosine, Embedder, Pooling};

const SENTENCES: [&str; 5] = [
    "red running shoes",
    "crimson sneakers for jogging",
    "stainless steel water bottle",
    "Wireless noise-cancelling headphones, 30h battery, USB-C charging.",
    "Kinder-Regenjacke, wasserdicht, Größe 128",
];

fn embedder() -> Embedder {
    Embedder::load(&common::model_dir(&defaults::EMBEDDING)).unwrap()
}

fn reference_vectors(sentences: &[&str]) -> Vec<Vec<f32>> {
    common::reference_vectors(
        "embed_reference.py",
        &common::model_dir(&defaults::EMBEDDING),
        sentences,
    )
}

#[test]
fn embeddings_match_numpy_reference() {
    let vectors = embedder().embed(&SENTENCES).unwrap();
    let reference = reference_vectors(&SENTENCES);
    for (sentence, (ours, theirs)) in SENTENCES.iter().zip(vectors.iter().zip(&reference)) {
        assert_eq!(ours.len(), theirs.len());
        let max_diff = ours
            .iter()
            .zip(theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max_diff < 1e-4, "`{sentence}`: max difference {max_diff}");
    }
}

#[test]
fn similar_products_score_higher() {
    let vectors = embedder().embed(&SENTENCES[..3]).unwrap();
    let related = cosine(&vectors[0], &vectors[1]);
    let unrelated = cosine(&vectors[0], &vectors[2]);
    eprintln!("cosine related {related:.4}, unrelated {unrelated:.4}");
    assert!(related > 0.5, "related cosine {related}");
    assert!(
        related - unrelated > 0.3,
        "related {related}, unrelated {unrelated}"
    );
}

#[test]
fn batch_size_does_not_change_vectors() {
    let embedder = embedder();
    let one_by_one = embedder.embed_batched(&SENTENCES, 1).unwrap();
    let together = embedder.embed_batched(&SENTENCES, 64).unwrap();
    for (a, b) in one_by_one.iter().zip(&together) {
        let max_diff = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(max_diff < 1e-5, "padding changed a vector by {max_diff}");
    }
}

#[test]
fn vectors_are_unit_length() {
    let embedder = embedder();
    for vector in embedder.embed(&SENTENCES).unwrap() {
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
}

#[test]
fn minilm_uses_mean_pooling_and_384_dimensions() {
    let embedder = embedder();
    assert_eq!(embedder.pooling(), Pooling::Mean);
    assert_eq!(embedder.dimension(), 384);
}
