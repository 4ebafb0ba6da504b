"""Reading and writing files: images through Pillow, and the formats behind optional extras."""
