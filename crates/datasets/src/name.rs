//! Dataset names.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// One of the three supported image datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DatasetName {
    /// MNIST handwritten digits (28x28 grey, 60000 train / 10000 test).
    Mnist,
    /// Fashion-MNIST (28x28 grey, 60000 train / 10000 test).
    FashionMnist,
    /// CIFAR-10 (32x32 RGB, up to 50000 train / 10000 test).
    Cifar10,
}

/// The class names of MNIST.
pub const MNIST_CLASSES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
/// The class names of Fashion-MNIST (from the upstream README).
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];
/// The class names of CIFAR-10 (the order of `batches.meta.txt`).
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

impl DatasetName {
    /// All datasets, in a fixed order.
    pub const ALL: [DatasetName; 3] = [
        DatasetName::Mnist,
        DatasetName::FashionMnist,
        DatasetName::Cifar10,
    ];

    /// The folder name under the data directory, which is also the name users type:
    /// `mnist`, `fashion-mnist`, `cifar10`.
    pub fn dir_name(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
            DatasetName::Cifar10 => "cifar10",
        }
    }

    /// Number of classes (10 for all three).
    pub fn num_classes(self) -> usize {
        10
    }

    /// Image shape as `[channels, height, width]`.
    pub fn image_shape(self) -> [usize; 3] {
        match self {
            DatasetName::Mnist | DatasetName::FashionMnist => [1, 28, 28],
            DatasetName::Cifar10 => [3, 32, 32],
        }
    }

    /// Input dimension d = channels x height x width (784 or 3072).
    pub fn dim(self) -> usize {
        let [c, h, w] = self.image_shape();
        c * h * w
    }

    /// The default class names.
    pub fn class_names(self) -> [&'static str; 10] {
        match self {
            DatasetName::Mnist => MNIST_CLASSES,
            DatasetName::FashionMnist => FASHION_MNIST_CLASSES,
            DatasetName::Cifar10 => CIFAR10_CLASSES,
        }
    }

    /// True for the IDX datasets (MNIST, Fashion-MNIST).
    pub fn is_idx(self) -> bool {
        !matches!(self, DatasetName::Cifar10)
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dir_name())
    }
}

impl FromStr for DatasetName {
    type Err = Error;

    /// Parse `mnist`, `fashion-mnist` or `cifar10` (case-insensitive; `fashion_mnist`,
    /// `fashionmnist` and `cifar-10` are accepted too).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mnist" => Ok(DatasetName::Mnist),
            "fashion-mnist" | "fashion_mnist" | "fashionmnist" => Ok(DatasetName::FashionMnist),
            "cifar10" | "cifar-10" | "cifar_10" => Ok(DatasetName::Cifar10),
            _ => Err(Error::UnknownDataset {
                name: s.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trip() {
        for name in DatasetName::ALL {
            assert_eq!(name.dir_name().parse::<DatasetName>().unwrap(), name);
        }
        assert_eq!(
            "Fashion_MNIST".parse::<DatasetName>().unwrap(),
            DatasetName::FashionMnist
        );
    }

    #[test]
    fn unknown_name_lists_allowed() {
        let err = "cifar100".parse::<DatasetName>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("cifar100"), "{msg}");
        assert!(msg.contains("mnist, fashion-mnist, cifar10"), "{msg}");
    }

    #[test]
    fn dims() {
        assert_eq!(DatasetName::Mnist.dim(), 784);
        assert_eq!(DatasetName::Cifar10.dim(), 3072);
    }
}
