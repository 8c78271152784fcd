"""Page script run by st.navigation; the page itself lives in visionbench.leaderboard.views.compare."""

from visionbench.leaderboard.views.compare import render

render()
