"""Real photographs that ship with installed packages, each with five reference captions written for this project.

The images come from scikit-image's bundled data folder and matplotlib's sample data (both
installed with visionbench, nothing is downloaded); the captions describe what each image
shows, in five different wordings, as COCO's annotators would. ``captioning:samples`` serves
them; its fingerprint covers the image bytes and the captions.
"""

from __future__ import annotations

from pathlib import Path

# (image id, library, file name, five captions)
SAMPLES: tuple[tuple[int, str, str, tuple[str, ...]], ...] = (
    (1, "skimage", "astronaut.png", (
        "A smiling astronaut in an orange flight suit poses in front of an American flag.",
        "A woman in an orange space suit holding a helmet, with a model space shuttle behind her.",
        "Portrait of a female astronaut wearing an orange pressure suit.",
        "An astronaut with short hair smiles next to a white helmet and the US flag.",
        "A woman in orange astronaut gear sits beside a space shuttle model.",
    )),
    (2, "skimage", "camera.png", (
        "A black and white photo of a man looking through a camera on a tripod.",
        "A photographer in a dark coat operating a film camera in a grassy field.",
        "A man stands behind a tripod camera with buildings in the distance.",
        "Black-and-white picture of a cameraman filming outdoors on a lawn.",
        "A man in a long coat peers into a camera mounted on a tripod.",
    )),
    (3, "skimage", "coffee.png", (
        "A cup of coffee on a red saucer with a spoon on a wooden table.",
        "An espresso in a white and red cup sitting on a saucer.",
        "A small red coffee cup with a silver spoon on a brown table.",
        "Top view of a cup of espresso with crema on a matching saucer.",
        "A coffee cup and saucer with a teaspoon resting on a wood surface.",
    )),
    (4, "skimage", "chelsea.png", (
        "A close-up of a tabby cat with green eyes looking at the camera.",
        "The face of a striped orange and brown cat.",
        "A cat with yellow-green eyes and white whiskers stares ahead.",
        "Close view of a tabby cat's face and ears.",
        "A brown tabby cat looking straight at the viewer.",
    )),
    (5, "skimage", "rocket.jpg", (
        "A rocket standing on a launch pad at dusk.",
        "A white rocket between tall towers under a blue evening sky.",
        "A space rocket on its launch pad surrounded by lightning towers.",
        "A rocket ready for launch with lights glowing at the base of the pad.",
        "Launch towers and a tall white rocket at twilight.",
    )),
    (6, "skimage", "coins.png", (
        "Rows of old coins on a dark background.",
        "A grayscale photo of many ancient coins arranged in a grid.",
        "Twenty-four silver coins laid out in four rows.",
        "Black and white image of antique coins of different sizes.",
        "A collection of old coins lined up on a black surface.",
    )),
    (7, "skimage", "moon.png", (
        "A grayscale close-up of the surface of the moon.",
        "Craters and dark patches on the lunar surface.",
        "A gray image of the moon's surface with a small crater.",
        "Black and white photo of a rocky lunar landscape seen from above.",
        "The surface of the moon with craters and shadows.",
    )),
    (8, "skimage", "hubble_deep_field.jpg", (
        "Many colourful galaxies scattered across a black sky.",
        "A deep space image full of distant stars and galaxies.",
        "Hundreds of small galaxies on a dark background.",
        "A telescope image of the night sky with countless bright dots.",
        "Distant galaxies of many colours in deep space.",
    )),
    (9, "skimage", "motorcycle_left.png", (
        "A red motorcycle parked inside a garage.",
        "A red and black motorbike standing in a workshop full of boxes.",
        "A motorcycle on its kickstand in a cluttered garage.",
        "A red motorcycle in a storage room with shelves behind it.",
        "A parked motorbike with a black seat in a garage.",
    )),
    (10, "skimage", "retina.jpg", (
        "A photograph of the back of a human eye showing blood vessels.",
        "An orange retina image with red veins spreading from the optic disc.",
        "A medical image of a retina on a black background.",
        "The inside of an eye with a bright optic nerve and branching vessels.",
        "A round orange fundus photo of an eye.",
    )),
    (11, "matplotlib", "grace_hopper.jpg", (
        "A portrait of an older woman in a navy uniform in front of a flag.",
        "An elderly woman with glasses wearing a naval officer's cap.",
        "A woman in a dark uniform with medals and a white collar.",
        "Official portrait of a navy officer with an American flag behind her.",
        "An older woman in glasses and a military hat poses for a photo.",
    )),
    (12, "skimage", "horse.png", (
        "A black silhouette of a horse on a white background.",
        "The shape of a standing horse in solid black.",
        "A horse silhouette facing right.",
        "A black horse outline against white.",
        "A simple black image of a horse standing still.",
    )),
    (13, "skimage", "page.png", (
        "A scanned page of text about region-based segmentation.",
        "A page from a book with a heading and a paragraph of text.",
        "Black text printed on a light page with a line of code at the bottom.",
        "A photo of a document page titled region-based segmentation.",
        "A page of printed text with a bold title.",
    )),
    (14, "skimage", "brick.png", (
        "A gray brick wall seen at an angle.",
        "Rows of rectangular bricks in a wall.",
        "A grayscale photo of a brick pattern.",
        "Close-up of a wall made of long narrow bricks.",
        "A brick wall texture in black and white.",
    )),
)  # fmt: skip


def image_path(library: str, file_name: str) -> Path:
    """Where an installed package keeps the sample image."""
    if library == "skimage":
        import skimage.data

        return Path(skimage.data.__file__).parent / file_name
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / file_name
