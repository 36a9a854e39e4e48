"""Starting kit: a logistic regression on the standardised features.

The features have very different scales (magnitudes near 23, asymmetries near 0.05, signal-to-
noise ratios in the hundreds), so they are standardised first: without it the regression's
penalty would weigh them unequally. The signal-to-noise ratio spans decades, so its logarithm
is used.
"""

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler


def get_estimator():
    log_snr = ColumnTransformer(
        [("log_snr", FunctionTransformer(np.log10, feature_names_out="one-to-one"), ["snr"])],
        remainder="passthrough",
    )
    return make_pipeline(log_snr, StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
