"""The galaxy deblending problem as a ramp-workflow kit."""
