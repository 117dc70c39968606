def is_hub_reference(text):
    return False
