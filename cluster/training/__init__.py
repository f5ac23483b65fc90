"""Training: the engine, tile sampling, augmentation, epochs, validation, optimiser."""
