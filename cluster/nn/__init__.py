"""The network: the U-Net, its loss, devices, tile geometry, live model <-> snapshot."""
