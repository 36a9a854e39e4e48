"""Score types of the deblending challenge, on arrays of truth and deblended images.

Import the classes from their modules
(``from ramp_kit.scoring.central_flux_error import CentralFluxError``).
"""
