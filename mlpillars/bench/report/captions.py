"""What each chart of a kernel section and the roofline shows, and what to look for: the
captions printed under them, kept apart from the code that lays the sections out."""

from __future__ import annotations

from .analysis import NUMPY

TIME_CAPTION = (
    "Median time per call against size, both axes logarithmic, one line per implementation "
    "(dashed or dotted for other dtypes), bars the 95% CI. Look for the lowest line at the "
    "sizes you use, for lines that cross (a crossover: the table in the answer section gives "
    "the sizes), and for a slope: a line flat at small sizes pays a fixed cost per call "
    "(dispatch, compilation cache, task graph) that its work does not yet cover."
)
SPEEDUP_CAPTION = (
    f"Speed-up over {NUMPY} of every implementation of this kernel at the largest size they "
    f"all ran: median({NUMPY}) / median(implementation) of each case's own rounds (the "
    "medians of the kernel's table and of the time chart; a pair also timed in alternating "
    "rounds has that ratio beside it in the table), log scale, bars the 95% CI. Right "
    "of the black line at 1 is faster than NumPy; a bar whose interval crosses the line is no "
    "different from NumPy at this size."
)
ROOFLINE_CAPTION = (
    "Achieved GFLOP/s of each kernel's implementations (colour) at the kernel's largest size "
    "(marker), against arithmetic intensity, under the measured roofs. Look at how far a point "
    "sits below the black machine roof: close to the sloped part, the kernel is limited by "
    "memory bandwidth; close to the flat part, by compute; far below both, by overheads that "
    "a larger size or a fused implementation would remove."
)
