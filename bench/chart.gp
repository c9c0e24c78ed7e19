# chart.gp: bench/run.sh's chart: requests/s and server CPU per request of each server, HTTP (wrk) and echo; gnuplot -e "dat='FILE'; out='PNG'; conns=N" chart.gp
set terminal pngcairo size 1200,720 font ",10"
set output out
set datafile missing "n/a"
set style fill solid 0.85 border -1
set boxwidth 0.6
set grid ytics
set yrange [0:*]
set xtics scale 0
set offsets 0.5, 0.5, graph 0.1, 0
unset key
set multiplot layout 2,3 title sprintf("swx-server in base and process mode (and the baseline build, if any) against nginx and the bare epoll loop, %d connections", conns)
array T[3] = ["HTTP GET /, wrk", "echo ping-pong", "echo pipelined (16)"]
set format y "%.0f"
do for [i=0:2] {
    set title T[i+1]
    set ylabel "requests/s"
    plot dat index i using 0:2:($0+1):xtic(1) with boxes lc variable, \
         '' index i using 0:2:(sprintf("%.0f", $2)) with labels offset 0,0.7
}
set format y "%g"
do for [i=0:2] {
    set title T[i+1]
    set ylabel "server CPU µs/request"
    plot dat index i using 0:3:($0+1):xtic(1) with boxes lc variable, \
         '' index i using 0:3:(sprintf("%.2f", $3)) with labels offset 0,0.7
}
unset multiplot
