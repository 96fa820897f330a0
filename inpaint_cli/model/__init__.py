"""The network: the Keras U-Net, the LiteRT runner, and the model folder's files."""
