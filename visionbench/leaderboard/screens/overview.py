"""Page script run by st.navigation; the page itself lives in visionbench.leaderboard.views.overview."""

from visionbench.leaderboard.views.overview import render

render()
