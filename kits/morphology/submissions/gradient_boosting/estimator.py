"""Gradient-boosted decision trees on the raw features.

Trees need no scaling and find the non-linear cuts astronomers draw by hand (in the Gini-M20
and concentration-asymmetry planes). A small learning rate, shallow trees and row subsampling
keep the class probabilities honest (a low negative log likelihood) rather than over-confident.
scikit-learn's classic implementation runs on one core, so it is as fast on a busy machine as
on an idle one.
"""

from sklearn.ensemble import GradientBoostingClassifier


def get_estimator():
    return GradientBoostingClassifier(
        n_estimators=200,
        learning_rate=0.05,
        max_depth=3,
        subsample=0.8,
        random_state=0,
    )
