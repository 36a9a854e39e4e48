"""Score types of the deblending challenge, on arrays of truth and predicted images.

Import the classes from their modules (``from scoring.central_iou import CentralIoU``).
"""
