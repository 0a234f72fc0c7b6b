"""A simulated Android phone that the unmodified uiautomator2/adbutils clients drive over loopback."""
