"""Page script run by st.navigation; the page itself lives in visionbench.leaderboard.views.pareto."""

from visionbench.leaderboard.views.pareto import render

render()
