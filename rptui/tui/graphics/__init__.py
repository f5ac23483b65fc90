"""True pixels in terminals that can show them: detection, Kitty graphics, Sixel, tmux."""
