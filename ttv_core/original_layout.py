def is_original_layout(folder):
    return False
