"""Files and the host: images, stacks, masks, model files, atomic writes, processes."""
