"""Campaign fixtures built directly from rows: stickers (real small files), candidate sets, tasks.

Independent of the sticker importer and the retrieval code so the annotation tests run on their
own. Needs the database; files go to MEDIA_ROOT (the test settings' temporary folder).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from annotation.models import Campaign, Candidate, CandidateSet, Sticker, Task
from annotation.selectors import annotators_group
from annotation.services.assignment import LeasedTask

EXT = {"png": "png", "gif": "gif", "webm": "webm", "jpeg": "jpg", "webp": "webp"}


def png_bytes(index: int, size: int = 48) -> bytes:
    colour = ((index * 53) % 256, (index * 97) % 256, (index * 31 + 80) % 256)
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


def gif_bytes(frames: int = 6, size: int = 64) -> bytes:
    """An animated GIF whose frames differ strongly, looping, 100 ms per frame."""
    colours = [(230, 30, 30), (30, 200, 30), (30, 30, 230), (240, 200, 0), (0, 200, 200),
               (200, 0, 200)]
    images = [Image.new("RGB", (size, size), colours[i % len(colours)]) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=100,
                   loop=0)
    return out.getvalue()


def webm_bytes(frames: int = 20, size: int = 64) -> bytes:
    """A VP8 webm, 10 frames per second, colour changing every frame."""
    import av
    import numpy as np

    out = io.BytesIO()
    with av.open(out, mode="w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=10)
        stream.width, stream.height, stream.pix_fmt = size, size, "yuv420p"
        for i in range(frames):
            arr = np.zeros((size, size, 3), dtype=np.uint8)
            arr[..., i % 3] = 220
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def sticker_create(sticker_id: str, data: bytes, media_type: str = "png",
                   animated: bool = False, size: int = 48) -> Sticker:
    digest = hashlib.sha256(data).hexdigest()
    path = default_storage.save(f"stickers/{digest[:16]}-{sticker_id}", ContentFile(data))
    return Sticker.objects.create(
        sticker_id=sticker_id, file=path, still=path, media_type=media_type,
        content_hash=digest, size_bytes=len(data), width=size, height=size,
        frame_count=6 if animated else 1, is_animated=animated,
    )


@dataclass
class CampaignFixture:
    campaign: Campaign
    stickers: list[Sticker]
    tasks: list[Task]


def campaign_build(
    *, name: str = "c1", anchors: int = 4, candidates: int = 20, per_task: int = 1,
    lease_seconds: int = 600, iterations: tuple[int, ...] = (1, 2), animated: bool = False,
) -> CampaignFixture:
    """A campaign whose anchors are stickers a0..; each anchor's candidates are the others.

    With ``animated`` the first candidate sticker is an animated GIF and the second a webm.
    Iteration 2 shows the same candidates in reverse order (enough for assignment tests).
    """
    pool = anchors + candidates
    stickers: list[Sticker] = []
    for i in range(pool):
        sid = f"s{i:03d}.png"
        if animated and i == anchors:
            stickers.append(sticker_create(f"s{i:03d}.gif", gif_bytes(), "gif", True, 64))
        elif animated and i == anchors + 1:
            stickers.append(sticker_create(f"s{i:03d}.webm", webm_bytes(), "webm", True, 64))
        else:
            stickers.append(sticker_create(sid, png_bytes(i)))
    campaign = Campaign.objects.create(name=name, annotators_per_task=per_task,
                                       lease_seconds=lease_seconds, candidate_count=candidates)
    tasks = []
    for a in range(anchors):
        others = [s for s in stickers[anchors:] + stickers[:anchors] if s.pk != stickers[a].pk]
        others = others[:candidates]
        for it in iterations:
            cset = CandidateSet.objects.create(campaign=campaign, anchor=stickers[a], iteration=it,
                                               retrieval_view="image" if it == 1 else "next_page")
            ordered = others if it == 1 else list(reversed(others))
            Candidate.objects.bulk_create(
                Candidate(candidate_set=cset, sticker=s, rank=r)
                for r, s in enumerate(ordered, start=1)
            )
            tasks.append(Task.objects.create(candidate_set=cset, campaign=campaign,
                                             anchor=stickers[a], iteration=it))
    return CampaignFixture(campaign, stickers, tasks)


def annotator_create(username: str, *, password: str = "pw-annotator-1", staff: bool = False):
    user = get_user_model().objects.create_user(username=username, password=password,
                                                is_staff=staff)
    user.groups.add(annotators_group())
    return user


def candidate_ids(task: Task | LeasedTask) -> list[str]:
    """The task's candidate sticker ids in rank order."""
    if isinstance(task, LeasedTask):
        return [c["sticker_id"] for c in task.candidates]
    return list(task.candidate_set.candidates.order_by("rank")
                .values_list("sticker__sticker_id", flat=True))
