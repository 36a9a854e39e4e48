"""Physical and numerical constants shared by the simulator, the problem and the scores."""

STAMP_SIZE = 128  # pixels on a side
N_CHANNELS = 2  # central galaxy, companion
IMAGE_SHAPE = (STAMP_SIZE, STAMP_SIZE, N_CHANNELS)  # one truth image / prediction
PIXEL_SCALE = 0.06  # arcsec / pixel, HST WFC3/IR F160W drizzled (CANDELS)
ZERO_POINT = 25.96  # AB magnitude of 1 e-/s in F160W
# Sky noise rms per pixel (e-/s; images are in e-/s). With the correlation of drizzled images
# (ramp_kit.sim_noise) it sets the 5 sigma point-source depth in a DEPTH_APERTURE aperture to
# H = 26.95, that of CANDELS Wide (27.0, Grogin et al. 2011); bench/bench_data.py measures it.
NOISE_SIGMA = 0.0065
DEPTH_APERTURE = 0.17  # arcsec, diameter
# The 1-sigma isophote: a galaxy's image above it is detectable light. The central_iou score's
# segment is where the central image exceeds it and outshines the companion.
MASK_THRESHOLD = NOISE_SIGMA
# Exposure time (s) that sets the Poisson noise of the galaxies' own electrons (CANDELS-like).
EXPOSURE_TIME = 5000.0
# Seed of the student release. The hidden test set must be drawn from another, secret seed.
PUBLIC_SEED = 2019
