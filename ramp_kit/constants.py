"""Physical and numerical constants shared by the simulator, the problem and the scores."""

STAMP_SIZE = 128  # pixels on a side
N_CHANNELS = 2  # central galaxy, companion
IMAGE_SHAPE = (STAMP_SIZE, STAMP_SIZE, N_CHANNELS)  # one truth image / prediction
PIXEL_SCALE = 0.06  # arcsec / pixel, HST WFC3/IR F160W drizzled (CANDELS)
ZERO_POINT = 25.96  # AB magnitude of 1 e-/s in F160W
# Sky noise rms per pixel (e-/s), CANDELS-wide-like depth; images are in e-/s.
NOISE_SIGMA = 0.003
# A pixel belongs to a galaxy's segmentation mask where its noiseless image exceeds 1 sigma.
MASK_THRESHOLD = NOISE_SIGMA
# Exposure time (s) that sets the Poisson noise of the galaxies' own electrons (CANDELS-like).
EXPOSURE_TIME = 5000.0
# Seed of the student release. The hidden test set must be drawn from another, secret seed.
PUBLIC_SEED = 2019
