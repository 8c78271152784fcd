"""Page script run by st.navigation; the page itself lives in visionbench.leaderboard.views.model."""

from visionbench.leaderboard.views.model import render

render()
